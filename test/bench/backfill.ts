import { createPipeline, Model, officialHubSpotApi, SegmentMessage, segmentMessageToProductEvent, Transport } from '@pqlkit/core'
import { startEmulator } from '../harness/hubspot-emulator'

export type BackfillCount = {
  events: number
  contacts: number
  companies: number
  associations: number
  /** Calls after bootstrap. */
  calls: number
  /** A read and a write per 100 contacts and per 100 companies, and an association call per 100 pairs. */
  floor: number
  ofFloor: number
  byEndpoint: Record<string, number>
  seconds: number
  peakRssMb: number
}

const per100 = (n: number) => Math.ceil(n / 100)

/**
 * `pqlkit sync`'s backfill of a whole history into an empty portal (the file as one batch, reads
 * without history, as the command does by default), counted against the floor.
 */
export async function backfillCalls(model: Model, stream: SegmentMessage[], now: number): Promise<BackfillCount> {
  const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  try {
    const sync = createPipeline({ api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()), model, repairOnRead: false })
    await sync.bootstrap()
    const before = emulator.stats().byEndpoint
    let peak = process.memoryUsage().rss
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100)
    const started = process.hrtime.bigint()
    const report = await sync.process(
      stream.map((message) => segmentMessageToProductEvent(message)),
      now
    )
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    clearInterval(sampler)
    const failed = report.results.filter((result) => result.status !== 'ok')
    if (failed.length > 0) throw new Error(`backfill: ${failed.length} events not synced (${JSON.stringify(failed[0])})`)
    const byEndpoint: Record<string, number> = {}
    for (const [endpoint, n] of Object.entries(emulator.stats().byEndpoint)) if (n > (before[endpoint] ?? 0)) byEndpoint[endpoint] = n - (before[endpoint] ?? 0)
    const calls = Object.values(byEndpoint).reduce((a, b) => a + b, 0)
    const dump = emulator.dump()
    const contacts = dump.contacts.length
    const companies = dump.companies.length
    const associations = dump.associations.length
    const floor = 2 * per100(contacts) + 2 * per100(companies) + per100(associations)
    return { events: stream.length, contacts, companies, associations, calls, floor, ofFloor: calls / floor, byEndpoint, seconds, peakRssMb: peak / 1e6 }
  } finally {
    await emulator.stop()
  }
}
