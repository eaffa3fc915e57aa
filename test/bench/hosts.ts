import { createTestIntegration, SegmentEvent } from '@segment/actions-core'
import destination from '@pqlkit/segment-destination'
import {
  createPipeline,
  HubSpotApi,
  loadModel,
  officialHubSpotApi,
  Pipeline,
  SegmentMessage,
  segmentMessageToProductEvent,
  Transport
} from '@pqlkit/core'
import { parse } from 'yaml'
import { buildBundles } from '@pqlkit/rudderstack-transformation/dist/tsc/scripts/build'
import { Emulator, startEmulator } from '../harness/hubspot-emulator'
import { pasted } from '../harness/rudderstack/transformation'
import { startTransformer } from '../harness/rudderstack/transformer'
import { batches } from './streams'

export type HostOverhead = { batchSize: number; batches: number; hostMsPerBatch: number; pipelineMsPerBatch: number; overheadMsPerBatch: number }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** The bare pipeline's median time per batch on the same batches, against its own fresh emulator. */
async function pipelineMedian(work: SegmentMessage[][], now: number, syncFor: (emulator: Emulator) => Pipeline): Promise<number> {
  const times: number[] = []
  const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  try {
    const sync = syncFor(emulator)
    for (const batch of work) {
      const started = process.hrtime.bigint()
      await sync.process(batch.map((message) => segmentMessageToProductEvent(message)), now)
      times.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
  } finally {
    await emulator.stop()
  }
  return median(times)
}

/**
 * The Segment destination's own cost per 1,000-event `performBatch` (actions-core's mapping,
 * validation and multistatus, and the wrapper): the same batches through `testBatchAction`
 * and through the bare pipeline, each against its own fresh emulator; the difference of
 * the medians is the host's overhead, the emulator's work cancelling out.
 */
export async function segmentOverhead(modelText: string, stream: SegmentMessage[], now: number): Promise<HostOverhead> {
  const tracks = stream.filter((message) => message.type === 'track')
  const work = batches(tracks, 1000)
  const previousBase = process.env.HUBSPOT_BASE_URL

  const hostTimes: number[] = []
  const hostEmulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  try {
    process.env.HUBSPOT_BASE_URL = hostEmulator.url
    const settings = { accessToken: hostEmulator.accessToken, model: modelText }
    const testDestination = createTestIntegration(destination)
    for (const batch of work) {
      const started = process.hrtime.bigint()
      await testDestination.testBatchAction('trackEvent', { events: batch as unknown as SegmentEvent[], settings, useDefaultMappings: true })
      hostTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
      testDestination.responses.length = 0
    }
  } finally {
    if (previousBase === undefined) delete process.env.HUBSPOT_BASE_URL
    else process.env.HUBSPOT_BASE_URL = previousBase
    await hostEmulator.stop()
  }

  const pipeline = await pipelineMedian(work, now, (emulator) => {
    const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
    return createPipeline({ api, model: loadModel(modelText) })
  })
  const host = median(hostTimes)
  return { batchSize: 1000, batches: work.length, hostMsPerBatch: host, pipelineMsPerBatch: pipeline, overheadMsPerBatch: host - pipeline }
}

/**
 * The RudderStack transformation's own cost per 200-event batch (the processor's batch size)
 * inside the isolated-vm runner: a fresh isolate and context, compiling the 650 kB file,
 * copying events in and results out, the sandbox's `fetchV2` bridge. The runner's time per
 * batch against the bare pipeline on the same batches (`FetchHubSpotApi` on Node's fetch,
 * contacts handed back as the transformation does), each against its own fresh emulator with
 * no added latency; the difference of the medians is the overhead. The isolate's clock is the
 * wall clock, so both sides evaluate at the time of the run.
 */
export async function rudderstackOverhead(modelText: string, stream: SegmentMessage[]): Promise<HostOverhead> {
  const work = batches(
    stream.filter((message) => message.type === 'track'),
    200
  )
  const built = await buildBundles(undefined)
  const hostTimes: number[] = []
  const hostEmulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  const transformer = startTransformer()
  try {
    const code = pasted(parse(modelText), { hubspotBaseUrl: hostEmulator.url, slackHosts: [] }, built.transformation)
    for (const batch of work) {
      const events = batch.map((message, index) => ({
        message: message as unknown as Record<string, unknown>,
        metadata: { messageId: message.messageId, sourceId: 'bench', destinationId: 'hubspot', jobId: index + 1 }
      }))
      const report = await transformer.run(code, events, { HUBSPOT_ACCESS_TOKEN: hostEmulator.accessToken })
      // A batch that failed would time nothing worth knowing.
      const failed = report.results.find((result) => result.statusCode === 400)
      if (failed) throw new Error(`the transformation failed an event: ${'error' in failed ? failed.error : ''}`)
      hostTimes.push(report.elapsedMs)
    }
  } finally {
    await transformer.stop()
    await hostEmulator.stop()
  }

  const pipeline = await pipelineMedian(work, Date.now(), (emulator) => {
    const api = new HubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(), (url, init) => fetch(url, init))
    return createPipeline({ api, model: loadModel(modelText), handBackContacts: true })
  })
  const host = median(hostTimes)
  return { batchSize: 200, batches: work.length, hostMsPerBatch: host, pipelineMsPerBatch: pipeline, overheadMsPerBatch: host - pipeline }
}
