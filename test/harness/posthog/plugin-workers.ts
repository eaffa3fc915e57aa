import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import type { PluginConfig } from '@pqlkit/posthog-plugin'
import { REPO_ROOT } from '../../repo-root'
import type { Delivery } from './plugin-server'
import type { WorkerRequest } from './plugin-worker'

/** A plugin-server worker thread running the plugin (./plugin-worker.ts). */
export type PluginWorker = {
  /** The server's `onEvent` loop for one batch in this thread (`deliver`). */
  deliver(events: ProcessedPluginEvent[]): Promise<Delivery[]>
  /** `teardownPlugin` (what the thread gathered is written), then the thread ends. */
  stop(): Promise<void>
}

const WORKER = join(REPO_ROOT, 'test/dist/harness/posthog/plugin-worker.js')

/** Starts `count` worker threads, each with its own plugin instance set up with `config`; `env` is theirs (the preload's clock and Slack log). */
export function startPluginWorkers(count: number, config: PluginConfig, env: NodeJS.ProcessEnv): PluginWorker[] {
  return Array.from({ length: count }, () => {
    const worker = new Worker(WORKER, { workerData: { config }, env })
    const waiting = new Map<number, { resolve: (deliveries: Delivery[]) => void; reject: (error: Error) => void }>()
    let next = 0
    worker.on('message', ({ id, deliveries }: { id: number; deliveries: Delivery[] }) => {
      waiting.get(id)?.resolve(deliveries)
      waiting.delete(id)
    })
    worker.on('error', (error) => {
      for (const { reject } of waiting.values()) reject(error)
      waiting.clear()
    })
    const ask = (request: Omit<WorkerRequest, 'id'>) =>
      new Promise<Delivery[]>((resolve, reject) => {
        const id = ++next
        waiting.set(id, { resolve, reject })
        worker.postMessage({ ...request, id })
      })
    return {
      deliver: (events) => ask({ events }),
      stop: async () => {
        await ask({ teardown: true })
        await worker.terminate()
      }
    }
  })
}
