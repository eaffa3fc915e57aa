import { readFileSync } from 'node:fs'
import { createTestIntegration, SegmentEvent } from '@segment/actions-core'
import { JsonLog, loadModel, officialHubSpotApi, openDatabase, RunningServer, segmentMessageToProductEvent, simulate, startServer, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { differencesFromSimulate } from '../conformance/snapshot'
import { drained, MODEL_FILE, SECRET, serverSnapshot, sqliteFile, stream } from './harness'

/**
 * Segment's own Webhooks (Actions) destination (`@segment/action-destinations`, its `send`
 * action in actions-core) posting to `POST /segment` over HTTP: its signature, single and
 * batched, accepted as Segment computes it.
 */
const MODEL = loadModel(readFileSync(MODEL_FILE, 'utf8'))
const NOW = Date.parse('2026-11-01T06:00:00.000Z')
const MESSAGES = stream(15, 10, 5)
const webhook = (require('@segment/action-destinations/dist/destinations/webhook') as { default: Parameters<typeof createTestIntegration>[0] }).default

let emulator: Emulator
let running: RunningServer
const file = sqliteFile()
beforeAll(async () => {
  emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  running = await startServer({
    db: openDatabase(file),
    model: MODEL,
    api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()),
    secret: SECRET,
    port: 0,
    log: new JsonLog({ write: () => true }),
    now: () => NOW,
    gatherMs: 20,
    pollMs: 50,
    sweepIntervalMs: 0
  })
})
afterAll(async () => {
  await running.close()
  await emulator.stop()
})

it('Segment’s Webhooks (Actions) destination, batched and single, signed with the Shared Secret, lands as simulate computes', async () => {
  const destination = createTestIntegration(webhook)
  const mapping = { url: `${running.url}/segment`, method: 'POST', data: { '@path': '$.' } }
  const events = MESSAGES as unknown as SegmentEvent[]
  const half = Math.floor(events.length / 2)
  const statuses = (await destination.testBatchAction('send', { events: events.slice(0, half), settings: { sharedSecret: SECRET }, mapping })).map((response) => response.status)
  for (const event of events.slice(half)) {
    for (const response of await destination.testAction('send', { event, settings: { sharedSecret: SECRET }, mapping })) statuses.push(response.status)
  }
  expect(statuses).toEqual(Array(1 + events.length - half).fill(200))
  // The wrong Shared Secret is refused.
  await expect(destination.testAction('send', { event: events[0], settings: { sharedSecret: `${SECRET}!` }, mapping })).rejects.toThrow(/401|Unauthorized/)
  const db = openDatabase(file)
  try {
    await drained(db)
    const expected = simulate(MODEL, MESSAGES.map((message) => segmentMessageToProductEvent(message)), NOW)
    expect(differencesFromSimulate(await serverSnapshot(emulator, db), expected)).toEqual([])
  } finally {
    await db.close()
  }
}, 60_000)
