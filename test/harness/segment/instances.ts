import { join } from 'node:path'
import type { JSONObject, SegmentEvent } from '@segment/actions-core'
import { REPO_ROOT } from '../../repo-root'
import { exited, forkHost } from '../processes/host-process'
import type { BatchAnswer, BatchRequest } from './runner'

/** One destination instance in its own process (./runner.ts): `onBatch` as Segment calls it. */
export type SegmentInstance = {
  onBatch(events: SegmentEvent[], settings: JSONObject): Promise<NonNullable<BatchAnswer['results']>>
  stop(): Promise<void>
}

const RUNNER = join(REPO_ROOT, 'test/dist/harness/segment/runner.js')

/**
 * Starts `count` destination instances at once, each a process with its own destination,
 * client and caches, as Segment runs several instances of a destination; resolves when all
 * are ready. `env` is theirs (HUBSPOT_BASE_URL, the preload's clock and Slack log).
 */
export async function startSegmentInstances(count: number, env: NodeJS.ProcessEnv): Promise<SegmentInstance[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const child = forkHost(RUNNER, [], env)
      const waiting = new Map<number, { resolve: (answer: BatchAnswer) => void; reject: (error: Error) => void }>()
      let next = 0
      const gone = exited(child).then((code) => {
        const error = new Error(`Segment instance ${index + 1} exited (${code}): ${child.output()}`)
        for (const { reject } of waiting.values()) reject(error)
        waiting.clear()
        return error
      })
      await new Promise<void>((resolve, reject) => {
        child.on('message', (message: BatchAnswer | { ready: true }) => {
          if ('ready' in message) return resolve()
          waiting.get(message.id)?.resolve(message)
          waiting.delete(message.id)
        })
        gone.then(reject)
      })
      return {
        onBatch: async (events, settings) => {
          const id = ++next
          const answer = await new Promise<BatchAnswer>((resolve, reject) => {
            waiting.set(id, { resolve, reject })
            child.send({ id, events, settings } satisfies BatchRequest)
          })
          if (answer.error !== undefined) throw new Error(`Segment instance ${index + 1}: onBatch threw ${answer.error}`)
          return answer.results!
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill()
          await gone
        }
      }
    })
  )
}
