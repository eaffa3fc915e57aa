import { createTestIntegration, SegmentEvent } from '@segment/actions-core'
import destination from '@pqlkit/segment-destination'
import { HubSpotApi, HubSpotSync, loadModel, SegmentMessage, segmentMessageToProductEvent, Transport } from '@pqlkit/core'
import { startEmulator } from '../hubspot-emulator'
import { batches } from './streams'

export type HostOverhead = { batchSize: number; batches: number; hostMsPerBatch: number; pipelineMsPerBatch: number; overheadMsPerBatch: number }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
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

  const pipelineTimes: number[] = []
  const pipelineEmulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  try {
    const api = new HubSpotApi({ accessToken: pipelineEmulator.accessToken, basePath: pipelineEmulator.url }, new Transport())
    const sync = new HubSpotSync(api, loadModel(modelText))
    for (const batch of work) {
      const started = process.hrtime.bigint()
      await sync.process(batch.map((message) => segmentMessageToProductEvent(message)), now)
      pipelineTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
  } finally {
    await pipelineEmulator.stop()
  }
  const host = median(hostTimes)
  const pipeline = median(pipelineTimes)
  return { batchSize: 1000, batches: work.length, hostMsPerBatch: host, pipelineMsPerBatch: pipeline, overheadMsPerBatch: host - pipeline }
}
