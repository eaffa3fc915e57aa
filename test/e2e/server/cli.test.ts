import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { segmentSignature } from '@pqlkit/core'
import { startEmulator } from '../../harness/hubspot-emulator'
import { endWithTest } from '../../harness/processes/host-process'
import { CLI, SECRET } from './harness'

/**
 * `npx pqlkit serve` with nothing configured: SQLite in the working directory, kept across a
 * restart; dead letters listed, retried and dropped with `pqlkit inbox`.
 */
const MODEL = `
version: 1
name: cli server test
signals:
  projects: { count: "Project Created" }
  seats: { trait: seats, type: number }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, every: 1, points: 10 }]
`

const dir = mkdtempSync(join(tmpdir(), 'pqlkit-serve-cli-'))
const modelFile = join(dir, 'model.yaml')
writeFileSync(modelFile, MODEL)
const at = new Date(Date.now() - 3_600_000).toISOString()
const identify = (n: number, seats: unknown) => ({ type: 'identify', messageId: `id-${n}`, userId: `u-${n}`, timestamp: at, traits: { email: `user${n}@acme.io`, seats } })

async function serve(env: Record<string, string>) {
  const child = endWithTest(
    spawn(process.execPath, [CLI, 'serve', '--model', modelFile, '--port', '0'], {
      cwd: dir,
      env: { PATH: process.env.PATH, PQLKIT_SERVE_SECRET: SECRET, PQLKIT_GATHER_MS: '20', ...env }
    })
  )
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(out)
    })
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)))
  })
  return { child, exited, line, url: /listening on (http:\/\/\S+)/.exec(line)![1] }
}

function inbox(...args: string[]): Record<string, unknown> {
  return JSON.parse(execFileSync(process.execPath, [CLI, 'inbox', ...args, '--json'], { cwd: dir, env: { PATH: process.env.PATH }, encoding: 'utf8' })) as Record<string, unknown>
}

async function post(url: string, body: unknown): Promise<number> {
  const answer = await fetch(`${url}/segment`, { method: 'POST', headers: { 'x-signature': segmentSignature(body, SECRET) }, body: JSON.stringify(body) })
  return answer.status
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  expect(check()).toBe(true)
}

it('starts on SQLite in the working directory, keeps its inbox across a restart, and lists, retries and drops dead letters', async () => {
  // HubSpot throttles everything during the first run: the events wait in the inbox.
  const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 }, faults: { seed: 2, rate429: 1 } })
  try {
    const env = { HUBSPOT_ACCESS_TOKEN: emulator.accessToken, HUBSPOT_BASE_URL: emulator.url }
    const first = await serve(env)
    expect(first.line).toContain(`(SQLite ${join(dir, 'pqlkit.sqlite')})`)
    expect(await post(first.url, [identify(1, 3), identify(2, 'lots'), identify(3, 5)])).toBe(200)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    expect(inbox()).toEqual({ pending: 3, deadLetters: [], oldestPendingAt: expect.any(Number) })

    emulator.setFaults(undefined)
    const second = await serve(env)
    try {
      await until(() => (inbox().pending as number) === 0)
      const listed = inbox()
      expect(listed.deadLetters).toEqual([{ id: expect.any(Number), messageId: 'id-2', reason: expect.stringContaining('seats'), failedAt: expect.any(String) }])
      expect(emulator.dump().contacts.map((record) => record.properties.email).sort()).toEqual(['user1@acme.io', 'user3@acme.io'])
      const [{ id }] = listed.deadLetters as { id: number }[]
      expect(inbox('retry', String(id))).toEqual({ retried: 1 })
      // Processed again, rejected again for the same reason.
      await until(() => (inbox().deadLetters as unknown[]).length === 1)
      expect(inbox('drop')).toEqual({ dropped: 1 })
      expect(inbox()).toEqual({ pending: 0, deadLetters: [] })
      // A dropped event's message id stays known: its redelivery is a duplicate.
      expect(await post(second.url, identify(2, 'lots'))).toBe(200)
      expect(inbox()).toEqual({ pending: 0, deadLetters: [] })
    } finally {
      second.child.kill('SIGTERM')
      expect(await second.exited).toBe(0)
    }
  } finally {
    await emulator.stop()
  }
}, 120_000)
