import { readFileSync } from 'node:fs'
import {
  HandoffContact,
  HandoffIntent,
  HandoffSender,
  JsonLog,
  loadModel,
  officialHubSpotApi,
  openDatabase,
  segmentMessageToProductEvent,
  simulate,
  startServer,
  Transport
} from '@pqlkit/core'
import { startEmulator } from '../../harness/hubspot-emulator'
import { differencesFromSimulate } from '../conformance/snapshot'
import { drained, MODEL_FILE, postSegment, SECRET, serverSnapshot, sqliteFile, stream } from './harness'

/** The server's own sweep on its schedule, and hand-offs through its outbox. */
const MODEL = loadModel(readFileSync(MODEL_FILE, 'utf8'))
const NOW = Date.parse('2026-11-01T06:00:00.000Z')
const MESSAGES = stream(60, 25, 17)
const chunked = <T>(items: T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

it('sweeps inside the server on its schedule: at a later date HubSpot holds what simulate computes then', async () => {
  const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  const file = sqliteFile()
  let now = NOW
  const logs: string[] = []
  const running = await startServer({
    db: openDatabase(file),
    model: MODEL,
    api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()),
    secret: SECRET,
    port: 0,
    log: new JsonLog({ write: (text: string) => logs.push(text) }),
    now: () => now,
    gatherMs: 20,
    pollMs: 50,
    sweepIntervalMs: 86_400_000
  })
  const db = openDatabase(file)
  try {
    for (const batch of chunked(MESSAGES, 100)) expect((await postSegment(running.url, batch)).status).toBe(200)
    await drained(db)
    // Three weeks without events: windows empty, decay sets in; the next loop turn sweeps.
    now = NOW + 21 * 86_400_000
    await until(() => logs.some((line) => line.includes('"msg":"swept"')), 'the sweep')
    const swept = JSON.parse(logs.find((line) => line.includes('"msg":"swept"'))!) as { examined: number; changed: number }
    expect(swept.examined).toBeGreaterThan(0)
    expect(swept.changed).toBeGreaterThan(0)
    const expected = simulate(MODEL, MESSAGES.map((message) => segmentMessageToProductEvent(message)), now)
    expect(differencesFromSimulate(await serverSnapshot(emulator, db), expected)).toEqual([])
  } finally {
    await running.close()
    await db.close()
    await emulator.stop()
  }
}, 120_000)

it('hand-offs go through the outbox: each sent once, retried until it lands; the tier-entry one (unless a customer) is not sent to a contact HubSpot now holds as a customer', async () => {
  const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  const expected = simulate(MODEL, MESSAGES.map((message) => segmentMessageToProductEvent(message)), NOW)
  const salesReady = expected.subjects.filter((subject) => subject.subject === 'contact' && subject.properties.pql_score_tier === 'Sales-Ready').map((subject) => subject.id)
  expect(salesReady.length).toBeGreaterThan(1)
  const [customer] = salesReady
  const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
  const sent: string[] = []
  let attempts = 0
  const sender: HandoffSender = {
    async send(intent: HandoffIntent, contact: HandoffContact) {
      // Every third attempt fails as a network error would: the outbox tries again later.
      if (++attempts % 3 === 0) throw new Error('socket hang up')
      sent.push(`${intent.on} → ${contact.properties.email}`)
    }
  }
  const file = sqliteFile()
  // The clock runs (from NOW): a failed hand-off's retry falls due a second or two later.
  const started = Date.now()
  const running = await startServer({
    db: openDatabase(file),
    model: MODEL,
    api,
    secret: SECRET,
    port: 0,
    handoffs: sender,
    log: new JsonLog({ write: () => true }),
    now: () => NOW + Date.now() - started,
    gatherMs: 20,
    pollMs: 50,
    sweepIntervalMs: 0
  })
  const db = openDatabase(file)
  try {
    // Sales made this person a customer in HubSpot, where the server keeps no copy: it reads it right before sending.
    await api.batchUpsert('contacts', [{ idProperty: 'email', id: customer, properties: { lifecyclestage: 'customer' } }])
    for (const batch of chunked(MESSAGES, 100)) expect((await postSegment(running.url, batch)).status).toBe(200)
    await drained(db)
    await until(async () => Number((await db.all(`SELECT COUNT(*) AS count FROM outbox WHERE status = 'pending'`))[0].count) === 0, 'the outbox')
    const rows = await db.all(`SELECT status, contact FROM outbox`)
    const entered = sent.filter((line) => line.startsWith('enters Sales-Ready'))
    expect(new Set(entered).size).toBe(entered.length)
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.every((row) => row.status === 'sent' || row.status === 'suppressed')).toBe(true)
    expect(sent.length).toBe(rows.filter((row) => row.status === 'sent').length)
    expect(attempts).toBeGreaterThan(sent.length)
    expect(entered.filter((line) => line.endsWith(` ${customer}`))).toEqual([])
    expect(rows.filter((row) => JSON.parse(String(row.contact)).email === customer).map((row) => row.status)).toContain('suppressed')
    expect(entered.length).toBeGreaterThan(0)
  } finally {
    await running.close()
    await db.close()
    await emulator.stop()
  }
}, 120_000)
