import { createPipeline, Model, officialHubSpotApi, SegmentMessage, segmentMessageToProductEvent, Transport } from '@pqlkit/core'
import { startEmulator } from '../harness/hubspot-emulator'
import { batches } from './streams'

export type Throughput = {
  limit: { max: number; intervalMs: number; latencyMs: number }
  seconds: number
  events: number
  contactUpdates: number
  calls: number
  /** Contact updates per second, measured after the first window (HubSpot allows a burst of `max` at the start). */
  updatesPerSecond: number
  /** The limit's calls per second × contact updates per call on this stream: what a pipeline that never idles reaches. */
  bound: number
  ratio: number
  throttled: number
  lost: number
}

/**
 * SPEC §5 under HubSpot's real limit: the emulator at 100 calls per 10 s with 50 ms per call,
 * the pipeline with its default limiter and retries, host batches of 1,000, for `seconds`.
 */
export async function sustainedThroughput(model: Model, stream: SegmentMessage[], now: number, seconds: number): Promise<Throughput> {
  const limit = { max: 100, intervalMs: 10_000, latencyMs: 50 }
  const emulator = await startEmulator({ rateLimit: { max: limit.max, intervalMs: limit.intervalMs }, faults: { seed: 1, latencyMs: limit.latencyMs } })
  try {
    const sync = createPipeline({ api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()), model: model })
    await sync.bootstrap()
    const started = Date.now()
    const marks: { at: number; updates: number; calls: number }[] = []
    let updates = 0
    let events = 0
    let lost = 0
    const callsSoFar = () => emulator.stats().requests
    const firstCalls = callsSoFar()
    for (const batch of batches(stream, 1000)) {
      if (Date.now() - started > seconds * 1000) break
      const report = await sync.process(batch.map((message) => segmentMessageToProductEvent(message)), now)
      updates += report.written.contacts
      events += batch.length
      lost += report.results.filter((result) => result.status !== 'ok').length
      marks.push({ at: Date.now(), updates, calls: callsSoFar() - firstCalls })
    }
    const elapsed = (Date.now() - started) / 1000
    const steady = marks.filter((mark) => mark.at - started >= limit.intervalMs)
    const from = steady[0]
    const to = marks[marks.length - 1]
    const updatesPerSecond = from && to !== from ? ((to.updates - from.updates) * 1000) / (to.at - from.at) : 0
    const calls = to?.calls ?? 0
    const bound = ((limit.max * 1000) / limit.intervalMs) * (updates / Math.max(calls, 1))
    return {
      limit,
      seconds: elapsed,
      events,
      contactUpdates: updates,
      calls,
      updatesPerSecond,
      bound,
      ratio: updatesPerSecond / bound,
      throttled: emulator.stats().status['429'] ?? 0,
      lost
    }
  } finally {
    await emulator.stop()
  }
}
