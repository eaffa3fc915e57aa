import { ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Database, decodeState, generateEvents, openDatabase, SegmentMessage, segmentSignature } from '@pqlkit/core'
import type { Emulator } from '../../harness/hubspot-emulator'
import { endWithTest, PRELOAD } from '../../harness/processes/host-process'
import { REPO_ROOT } from '../../repo-root'
import { Snapshot, snapshot } from '../conformance/snapshot'

export const SECRET = 'server-test-secret-0123456789'
export const MODEL_FILE = join(REPO_ROOT, 'examples', 'project-management.yaml')
export const CLI = join(REPO_ROOT, 'core', 'bin', 'pqlkit.js')

/** A seeded stream of Segment calls (identifies, tracks, groups), sorted by time as hosts deliver. */
export function stream(users: number, days: number, seed: number, end = '2026-11-01T00:00:00.000Z'): SegmentMessage[] {
  return generateEvents({ profile: 'project-management', users, days, end, seed })
}

export function sqliteFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'pqlkit-server-')), 'pqlkit.sqlite')
}

/** Segment's Webhooks (Actions) destination: JSON body, X-Signature over the first element. */
let databases = 0
/** A database of its own in the throwaway PostgreSQL cluster, for one test. */
export async function freshDatabase(clusterUrl: string): Promise<string> {
  const admin = openDatabase(clusterUrl)
  const name = `test_${process.pid}_${++databases}`
  await admin.run(`CREATE DATABASE ${name}`)
  await admin.close()
  return clusterUrl.replace(/\/postgres$/, `/${name}`)
}

export async function postSegment(url: string, messages: SegmentMessage[] | SegmentMessage): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now()
  const answer = await fetch(`${url}/segment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': segmentSignature(messages, SECRET) },
    body: JSON.stringify(messages)
  })
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown>, ms: performance.now() - started }
}

/** Waits until no row of `table` is pending (on the monotonic clock: tests may freeze Date). */
async function nonePending(db: Database, table: 'inbox' | 'outbox', what: string, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs
  for (;;) {
    const [row] = await db.all(`SELECT COUNT(*) AS count FROM ${table} WHERE status = 'pending'`)
    if (Number(row.count) === 0) return
    if (performance.now() > until) throw new Error(`${row.count} ${what} still pending after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Waits until every event in the inbox is processed or dead-lettered. */
export const drained = (db: Database, timeoutMs = 120_000) => nonePending(db, 'inbox', 'events', timeoutMs)

/** Waits until every hand-off in the outbox is sent, suppressed or failed. */
export const handedOff = (db: Database, timeoutMs = 120_000) => nonePending(db, 'outbox', 'hand-offs', timeoutMs)

/**
 * What HubSpot holds, with each subject's state taken from the server's database (where it
 * lives on this route) in place of `pqlkit_state`, normalised as the conformance suite does.
 */
export async function serverSnapshot(emulator: Emulator, db: Database): Promise<Snapshot> {
  const states = await databaseStates(db)
  const dump = emulator.dump()
  const withState = (records: { id: string; properties: Record<string, string | null> }[]) =>
    records.map((record) => ({ ...record, properties: { ...record.properties, pqlkit_state: states.get(record.id) ?? null } }))
  const merged = { ...dump, contacts: withState(dump.contacts), companies: withState(dump.companies) }
  return snapshot({ ...emulator, dump: () => merged } as unknown as Emulator)
}

/** Each subject's state in the server's database (encoded as `pqlkit_state` is), by its HubSpot record id. */
export async function databaseStates(db: Database): Promise<Map<string, string>> {
  const states = new Map<string, string>()
  for (const row of await db.all(`SELECT record_id, state FROM contacts`)) states.set(String(row.record_id), String(row.state))
  for (const row of await db.all(`SELECT record_id, state FROM companies`)) states.set(String(row.record_id), String(row.state))
  return states
}

/** The states in the database, decoded (a check that each subject has one). */
export async function storedStates(db: Database): Promise<number> {
  const rows = await db.all(`SELECT state FROM contacts`)
  for (const row of rows) decodeState(String(row.state))
  return rows.length
}

export type ServerProcess = { url: string; child: ChildProcess; stderr: string[]; exited: Promise<number | null> }

/**
 * `pqlkit serve` as a process of its own, on a free port, against the emulator. `args`: more
 * of the command's (`--handoffs`); `preload`: started as the other host processes are
 * (test/harness/processes/preload.ts: Date frozen, Slack faked, by `env`'s settings).
 */
export async function spawnServer(
  emulator: Emulator,
  database: string,
  env: NodeJS.ProcessEnv = {},
  { args = [], preload = false }: { args?: string[]; preload?: boolean } = {}
): Promise<ServerProcess> {
  const node = preload ? ['--require', PRELOAD] : []
  const child = endWithTest(spawn(process.execPath, [...node, CLI, 'serve', '--model', MODEL_FILE, '--port', '0', '--database', database, ...args], {
    env: {
      PATH: process.env.PATH,
      HUBSPOT_ACCESS_TOKEN: emulator.accessToken,
      HUBSPOT_BASE_URL: emulator.url,
      PQLKIT_SERVE_SECRET: SECRET,
      PQLKIT_GATHER_MS: '50',
      ...env
    }
  }))
  const stderr: string[] = []
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`pqlkit serve exited with ${code}: ${stderr.join('')}`)))
  })
  return { url, child, stderr, exited }
}

export { openDatabase }
