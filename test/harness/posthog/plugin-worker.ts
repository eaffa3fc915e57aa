/**
 * One plugin-server worker thread: PostHog's plugin server runs plugins in several worker
 * threads, each with its own instance of the plugin (`setupPlugin` with its own `meta.global`,
 * so its own pipeline, client and gatherer). The preload comes first: Date frozen, Slack faked
 * in this thread (see ../processes/preload.ts; its settings come in the thread's env).
 */
import '../processes/preload'
import { parentPort, workerData } from 'node:worker_threads'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import * as plugin from '@pqlkit/posthog-plugin'
import type { PluginConfig } from '@pqlkit/posthog-plugin'
import { deliver, Delivery, pluginMeta, setUpWithServerFetch } from './plugin-server'

export type WorkerRequest = { id: number; events: ProcessedPluginEvent[] } | { id: number; teardown: true }

const meta = pluginMeta((workerData as { config: PluginConfig }).config)
setUpWithServerFetch(meta)

parentPort!.on('message', (request: WorkerRequest) => {
  const work = 'teardown' in request ? Promise.resolve(plugin.teardownPlugin!(meta)).then(() => []) : deliver(request.events, meta, 5)
  work.then((deliveries: Delivery[]) => parentPort!.postMessage({ id: request.id, deliveries }))
})
