import { randomUUID } from 'node:crypto'
import { loadavg } from 'node:os'
import { Database, JsonLog, Model, officialHubSpotApi, openDatabase, SegmentMessage, segmentSignature, startServer, Transport } from '@pqlkit/core'
import { startEmulator } from '../harness/hubspot-emulator'
import { startPostgres } from '../harness/postgres'
import { batches } from './streams'
import { spawnServer, sqliteFile } from '../e2e/server/harness'

const SECRET = 'bench-secret-0123456789abcdef'
const UNLIMITED = { max: 1_000_000, intervalMs: 10_000 }

type AutocannonResult = { requests: { average: number; total: number }; latency: { p50: number; p99: number; max: number }; non2xx: number; errors: number }
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>
// autocannon ships no types; this is the part of its API used here.
const autocannon = require('autocannon') as Autocannon

export type AcceptBench = { database: string; seconds: number; connections: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; maxMs: number; non2xx: number; loadAverage: number }
export type FreshnessBench = { eventsPerSecond: number; callsPerSecond: number; limit: { max: number; intervalMs: number; latencyMs: number }; events: number; p50Seconds: number; p99Seconds: number; maxSeconds: number }
export type ServerCalls = { events: number; calls: number; perThousandEvents: number; byEndpoint: Record<string, number> }
export type StormBench = { seconds: number; requestsPerSecond: number; requests: number; p50Ms: number; p99Ms: number; maxMs: number; non2xx: number; throttled: number; catchUpSeconds: number }
export type ServerBench = { accept: AcceptBench[]; storm: StormBench; calls: ServerCalls; freshness: FreshnessBench }

async function server(db: Database, model: Model, emulatorUrl: string, token: string) {
  return startServer({
    db,
    model,
    api: officialHubSpotApi({ accessToken: token, basePath: emulatorUrl }, new Transport()),
    secret: SECRET,
    port: 0,
    log: new JsonLog({ write: () => true }),
    sweepIntervalMs: 0
  })
}

async function drained(db: Database): Promise<void> {
  for (;;) {
    const [row] = await db.all(`SELECT COUNT(*) AS count FROM inbox WHERE status = 'pending'`)
    if (Number(row.count) === 0) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * `pqlkit serve` as its own process (the CLI, one process), one event per request (PostHog's
 * webhook, Segment unbatched), each a new message of one of 5,000 users, signed as Segment
 * signs; the bodies are made before the run so that the load generator spends its time sending.
 */
async function accept(location: string, label: string, template: SegmentMessage, seconds: number): Promise<AcceptBench> {
  const emulator = await startEmulator({ rateLimit: UNLIMITED })
  const running = await spawnServer(emulator, location, { PQLKIT_SERVE_SECRET: SECRET, PQLKIT_GATHER_MS: '1000' })
  try {
    const connections = 10
    const result = await autocannon({ url: `${running.url}/segment`, connections, duration: seconds, requests: [signedBodies(template)] })
    return {
      database: label,
      seconds,
      connections,
      requestsPerSecond: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      non2xx: result.non2xx + result.errors,
      loadAverage: loadavg()[0]
    }
  } finally {
    running.child.kill('SIGTERM')
    await running.exited
    await emulator.stop()
  }
}

/** Each request a new message of one of 5,000 users, signed as Segment signs; made before the run so that the load generator spends its time sending. */
function signedBodies(template: SegmentMessage): { setupRequest(request: Record<string, unknown>): Record<string, unknown> } {
  const bodies = Array.from({ length: 100_000 }, (_, i) => {
    const userId = `bench-user-${i % 5000}`
    const message = { ...template, messageId: randomUUID(), userId, context: { traits: { email: `${userId}@example.com` } } }
    return { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': segmentSignature(message, SECRET) }, body: JSON.stringify(message) }
  })
  let next = 0
  return { setupRequest: (request) => ({ ...request, ...bodies[next++ % bodies.length] }) }
}

/**
 * A HubSpot 429 storm under load: the server as its own process on SQLite, every HubSpot call
 * answered 429 for `seconds` while webhooks arrive at a steady rate (one event each); then
 * HubSpot recovers and the time until the inbox is drained is the catch-up.
 */
async function storm(template: SegmentMessage, seconds: number, requestsPerSecond: number): Promise<StormBench> {
  const emulator = await startEmulator({ rateLimit: UNLIMITED })
  const location = sqliteFile()
  const running = await spawnServer(emulator, location, { PQLKIT_SERVE_SECRET: SECRET, PQLKIT_GATHER_MS: '1000' })
  const db = openDatabase(location)
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    emulator.setFaults({ seed: 7, rate429: 1 })
    const connections = 10
    const result = await autocannon({ url: `${running.url}/segment`, connections, duration: seconds, overallRate: requestsPerSecond, requests: [signedBodies(template)] })
    const throttled = emulator.stats().status['429'] ?? 0
    emulator.setFaults(undefined)
    const recovered = Date.now()
    await drained(db)
    return {
      seconds,
      requestsPerSecond,
      requests: result.requests.total,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      non2xx: result.non2xx + result.errors,
      throttled,
      catchUpSeconds: (Date.now() - recovered) / 1000
    }
  } finally {
    await db.close()
    running.child.kill('SIGTERM')
    await running.exited
    await emulator.stop()
  }
}

/** The benchmark stream through the server: accepted in requests of 1,000, drained, HubSpot calls counted (bootstrap left out). */
async function calls(model: Model, stream: SegmentMessage[]): Promise<ServerCalls> {
  const emulator = await startEmulator({ rateLimit: UNLIMITED })
  const location = sqliteFile()
  const running = await server(openDatabase(location), model, emulator.url, emulator.accessToken)
  const db = openDatabase(location)
  try {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before = { ...emulator.stats().byEndpoint }
    for (const batch of batches(stream, 1000)) {
      const answer = await fetch(`${running.url}/segment`, { method: 'POST', headers: { 'x-signature': segmentSignature(batch, SECRET) }, body: JSON.stringify(batch) })
      if (answer.status !== 200) throw new Error(`the server answered ${answer.status}: ${await answer.text()}`)
    }
    await drained(db)
    const byEndpoint: Record<string, number> = {}
    for (const [endpoint, n] of Object.entries(emulator.stats().byEndpoint)) if (n - (before[endpoint] ?? 0) > 0) byEndpoint[endpoint] = n - (before[endpoint] ?? 0)
    const total = Object.values(byEndpoint).reduce((a, b) => a + b, 0)
    return { events: stream.length, calls: total, perThousandEvents: (total * 1000) / stream.length, byEndpoint }
  } finally {
    await db.close()
    await running.close()
    await emulator.stop()
  }
}

/**
 * Event → HubSpot freshness under HubSpot's real limit (100 calls per 10 s, 50 ms a call),
 * aiming at half of it: a first 20 s at the rate the batch figure predicts for half the limit
 * measures what the server spends per event at that pace, and the rate is set from it for
 * the measured `seconds` (requests of 50 events, evenly spaced). Smaller rounds cost more per
 * event, so the calls actually used are reported beside the figures. Freshness is the time from
 * an event's commit to the inbox to its processing (HubSpot written, state committed).
 */
async function freshness(model: Model, stream: SegmentMessage[], perThousandEvents: number, seconds: number): Promise<FreshnessBench> {
  const limit = { max: 100, intervalMs: 10_000, latencyMs: 50 }
  const half = limit.max / (limit.intervalMs / 1000) / 2
  const emulator = await startEmulator({ rateLimit: { max: limit.max, intervalMs: limit.intervalMs }, faults: { seed: 1, latencyMs: limit.latencyMs } })
  const location = sqliteFile()
  const running = await server(openDatabase(location), model, emulator.url, emulator.accessToken)
  const db = openDatabase(location)
  let offset = 0
  const feed = async (eventsPerSecond: number, forSeconds: number) => {
    const started = Date.now()
    const calls = emulator.stats().requests
    let sent = 0
    for (const batch of batches(stream.slice(offset), 50)) {
      if (Date.now() - started > forSeconds * 1000) break
      await fetch(`${running.url}/segment`, { method: 'POST', headers: { 'x-signature': segmentSignature(batch, SECRET) }, body: JSON.stringify(batch) })
      sent += batch.length
      const wait = started + (sent / eventsPerSecond) * 1000 - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
    offset += sent
    await drained(db)
    return { sent, callsPerSecond: (emulator.stats().requests - calls) / ((Date.now() - started) / 1000) }
  }
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const guess = Math.floor((half * 1000) / perThousandEvents)
    const calibration = await feed(guess, 20)
    const eventsPerSecond = Math.floor((guess * half) / Math.max(calibration.callsPerSecond, 0.1))
    const [mark] = await db.all(`SELECT MAX(id) AS id FROM inbox`)
    const measured = await feed(eventsPerSecond, seconds)
    const lags = (await db.all(`SELECT processed_at - received_at AS lag FROM inbox WHERE status = 'done' AND id > ? ORDER BY lag`, [mark.id])).map((row) => Number(row.lag) / 1000)
    const at = (q: number) => lags[Math.min(lags.length - 1, Math.floor(lags.length * q))]
    return {
      eventsPerSecond,
      callsPerSecond: measured.callsPerSecond,
      limit,
      events: lags.length,
      p50Seconds: at(0.5),
      p99Seconds: at(0.99),
      maxSeconds: lags[lags.length - 1]
    }
  } finally {
    await db.close()
    await running.close()
    await emulator.stop()
  }
}

export async function serverBench(model: Model, stream: SegmentMessage[]): Promise<ServerBench> {
  const template = stream.find((message) => message.type === 'track')!
  const postgres = await startPostgres({ durable: true })
  try {
    const accepts = [await accept(sqliteFile(), 'sqlite', template, 10), await accept(postgres.url, 'postgres', template, 10)]
    const stormed = await storm(template, 60, 100)
    const counted = await calls(model, stream)
    return { accept: accepts, storm: stormed, calls: counted, freshness: await freshness(model, stream, counted.perThousandEvents, 60) }
  } finally {
    postgres.stop()
  }
}
