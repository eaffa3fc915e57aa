import { readFileSync } from 'node:fs'
import { Database, loadModel, segmentMessageToProductEvent, simulate } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { PostgresCluster, startPostgres } from '../../harness/postgres'
import { differencesFromSimulate } from '../conformance/snapshot'
import { drained, freshDatabase, MODEL_FILE, openDatabase, postSegment, serverSnapshot, spawnServer, sqliteFile, stream } from './harness'

/**
 * `pqlkit serve` as processes of its own (the CLI), the way it is deployed: killed with
 * SIGKILL in the middle of a drain, and three of them on one PostgreSQL. The servers run on
 * the real clock, so the stream ends an hour ago and `simulate` evaluates as of the end.
 */
const MODEL = loadModel(readFileSync(MODEL_FILE, 'utf8'))
const END = new Date(Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000).toISOString()
const MESSAGES = stream(40, 20, 23, END)
const expected = () => simulate(MODEL, MESSAGES.map((message) => segmentMessageToProductEvent(message)), Date.now())
const chunked = <T>(items: T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

let postgres: PostgresCluster
let emulator: Emulator
beforeAll(async () => {
  postgres = await startPostgres()
}, 60_000)
afterAll(() => postgres?.stop())
beforeEach(async () => {
  // HubSpot's own latency, so that a drain round is in the middle of its writes when killed.
  emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 }, faults: { seed: 1, latencyMs: 40 } })
})
afterEach(() => emulator.stop())

const location = (kind: 'sqlite' | 'postgres') => (kind === 'sqlite' ? Promise.resolve(sqliteFile()) : freshDatabase(postgres.url))

async function count(db: Database, status: string): Promise<number> {
  const [row] = await db.all(`SELECT COUNT(*) AS count FROM inbox WHERE status = ?`, [status])
  return Number(row.count)
}

describe.each(['sqlite', 'postgres'] as const)('on %s', (kind) => {
  it('a server killed with SIGKILL in the middle of a drain loses nothing and doubles nothing', async () => {
    const database = await location(kind)
    const first = await spawnServer(emulator, database, { PQLKIT_BATCH_SIZE: '200' })
    const db = openDatabase(database)
    try {
      for (const batch of chunked(MESSAGES, 50)) expect((await postSegment(first.url, batch)).status).toBe(200)
      // Killed once HubSpot has taken some writes and events are still waiting.
      const before = emulator.stats().requests
      while (emulator.stats().requests < before + 3 || (await count(db, 'pending')) === 0) await new Promise((resolve) => setTimeout(resolve, 10))
      first.child.kill('SIGKILL')
      await first.exited
      const pendingAtKill = await count(db, 'pending')
      expect(pendingAtKill).toBeGreaterThan(0)
      const second = await spawnServer(emulator, database)
      try {
        // A sender redelivers what it may not have seen answered: changes nothing.
        for (const batch of chunked(MESSAGES.slice(0, 100), 50)) expect((await postSegment(second.url, batch)).status).toBe(200)
        await drained(db)
        expect(await count(db, 'dead')).toBe(0)
        expect(differencesFromSimulate(await serverSnapshot(emulator, db), expected())).toEqual([])
      } finally {
        second.child.kill('SIGTERM')
        expect(await second.exited).toBe(0)
      }
    } finally {
      first.child.kill('SIGKILL')
      await db.close()
    }
  }, 180_000)
})

it.each(['postgres', 'sqlite'] as const)('three server processes on one %s database, fed interleaved and duplicated deliveries of the same subjects, end equal to simulate', async (kind) => {
  // On SQLite (one process's database) a lease row keeps the drains apart should it be shared.
  const database = await location(kind)
  const servers = await Promise.all([0, 1, 2].map(() => spawnServer(emulator, database, { PQLKIT_BATCH_SIZE: '150' })))
  const db = openDatabase(database)
  try {
    // Every batch to one process and again to the next, two requests in flight at a time.
    const batches = chunked(MESSAGES, 25)
    for (const [index, pair] of chunked(batches, 2).entries()) {
      const answers = await Promise.all(
        pair.flatMap((batch, offset) => [postSegment(servers[(index + offset) % 3].url, batch), postSegment(servers[(index + offset + 1) % 3].url, batch)])
      )
      for (const answer of answers) expect(answer.status).toBe(200)
    }
    await drained(db)
    expect(await count(db, 'dead')).toBe(0)
    expect(differencesFromSimulate(await serverSnapshot(emulator, db), expected())).toEqual([])
    const drainedBy = servers.filter((server) => server.stderr.join('').includes('"msg":"drained"')).length
    expect(drainedBy).toBeGreaterThanOrEqual(1)
  } finally {
    for (const server of servers) server.child.kill('SIGTERM')
    for (const server of servers) expect(await server.exited).toBe(0)
    await db.close()
  }
}, 180_000)
