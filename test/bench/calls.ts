import { createTestIntegration, SegmentEvent } from '@segment/actions-core'
import { createPipeline, Model, officialHubSpotApi, SegmentMessage, segmentMessageToProductEvent, Transport } from '@pqlkit/core'
import { startEmulator } from '../harness/hubspot-emulator'
import { batches } from './streams'

export type CallCount = { events: number; calls: number; perThousandEvents: number; byEndpoint: Record<string, number>; seconds: number }

const UNLIMITED = { max: 1_000_000, intervalMs: 10_000 }

function count(events: number, byEndpoint: Record<string, number>, seconds: number): CallCount {
  const calls = Object.values(byEndpoint).reduce((a, b) => a + b, 0)
  return { events, calls, perThousandEvents: (calls * 1000) / events, byEndpoint, seconds }
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const result: Record<string, number> = {}
  for (const [endpoint, n] of Object.entries(after)) if (n - (before[endpoint] ?? 0) > 0) result[endpoint] = n - (before[endpoint] ?? 0)
  return result
}

/** pqlkit's pipeline, host batches of `batchSize`, against the emulator; bootstrap calls left out (once per portal). */
export async function pqlkitCalls(model: Model, stream: SegmentMessage[], batchSize: number, now: number): Promise<CallCount> {
  const emulator = await startEmulator({ rateLimit: UNLIMITED })
  try {
    const sync = createPipeline({ api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()), model: model })
    await sync.bootstrap()
    const before = emulator.stats().byEndpoint
    const started = process.hrtime.bigint()
    for (const batch of batches(stream, batchSize)) {
      const report = await sync.process(batch.map((message) => segmentMessageToProductEvent(message)), now)
      const failed = report.results.filter((result) => result.status !== 'ok')
      if (failed.length > 0) throw new Error(`benchmark stream: ${failed.length} events not synced (${JSON.stringify(failed[0])})`)
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    return count(stream.length, difference(emulator.stats().byEndpoint, before), seconds)
  } finally {
    await emulator.stop()
  }
}

/**
 * Segment's own HubSpot destination (`@segment/action-destinations`) on the same stream, in
 * actions-core against the emulator: identifies through `upsertContact`'s batch path, tracks
 * through `sendCustomBehavioralEvent` (which has no batch path: one call per event). Tracks
 * without an email are refused by that action and cost no call. Group calls are left out
 * (pqlkit's count includes its company writes).
 */
export async function segmentHubSpotCalls(stream: SegmentMessage[], batchSize: number): Promise<CallCount & { refused: number }> {
  // The destination builds its URLs from this module's constant at call time.
  const properties = require('@segment/action-destinations/dist/destinations/hubspot/properties') as { HUBSPOT_BASE_URL: string }
  const hubspot = (require('@segment/action-destinations/dist/destinations/hubspot') as { default: Parameters<typeof createTestIntegration>[0] }).default
  const emulator = await startEmulator({ rateLimit: UNLIMITED })
  const original = properties.HUBSPOT_BASE_URL
  properties.HUBSPOT_BASE_URL = emulator.url
  let refused = 0
  try {
    const destination = createTestIntegration(hubspot)
    const settings = { portalId: '123456' }
    const auth = { accessToken: emulator.accessToken, refreshToken: 'unused' }
    const started = process.hrtime.bigint()
    for (const batch of batches(stream, batchSize)) {
      // Segment hands upsertContact at most 100 events a batch: HubSpot's batch limit.
      const identifies = batch.filter((message) => message.type === 'identify') as unknown as SegmentEvent[]
      for (const events of batches(identifies, 100)) {
        await destination.testBatchAction('upsertContact', { events, settings, auth, useDefaultMappings: true })
      }
      for (const message of batch.filter((m) => m.type === 'track')) {
        try {
          await destination.testAction('sendCustomBehavioralEvent', {
            event: message as unknown as SegmentEvent,
            settings,
            auth,
            useDefaultMappings: true,
            mapping: { eventName: `pe123456_${(message.event ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '_')}` }
          })
        } catch {
          refused++
        }
      }
      destination.responses.length = 0
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    return { ...count(stream.length, emulator.stats().byEndpoint, seconds), refused }
  } finally {
    properties.HUBSPOT_BASE_URL = original
    await emulator.stop()
  }
}
