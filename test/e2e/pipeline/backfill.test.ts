import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCaptured } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'

const MODEL = join(REPO_ROOT, 'examples/project-management.yaml')
const NOW = '2026-11-01T00:00:00Z'

type Calls = { calls: number; byEndpoint: Record<string, number> }

let emulator: Emulator
let dir: string
let env: Record<string, string>
beforeAll(async () => {
  emulator = await startEmulator({ accessToken: 'local', rateLimit: { max: 100_000, intervalMs: 10_000 } })
  env = { HUBSPOT_ACCESS_TOKEN: 'local', HUBSPOT_BASE_URL: emulator.url }
  dir = mkdtempSync(join(tmpdir(), 'pqlkit-backfill-'))
  const generated = await runCaptured(['generate', '--users', '400', '--days', '20', '--seed', '5'], dir)
  writeFileSync(join(dir, 'events.jsonl'), generated.stdout)
})
afterAll(async () => {
  await emulator.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function backfill(...extra: string[]): Promise<Calls> {
  emulator.reset()
  expect((await runCaptured(['bootstrap', '--model', MODEL], dir, env)).code).toBe(0)
  const sync = await runCaptured(['sync', '--model', MODEL, '--events', 'events.jsonl', '--now', NOW, '--json', ...extra], dir, env)
  expect(sync.code).toBe(0)
  return JSON.parse(sync.stdout).calls as Calls
}

const per100 = (n: number) => Math.ceil(n / 100)
const writes = (calls: Calls, objectType: string) =>
  (calls.byEndpoint[`POST /crm/v3/objects/${objectType}/batch/upsert`] ?? 0) + (calls.byEndpoint[`POST /crm/v3/objects/${objectType}/batch/update`] ?? 0)

describe('pqlkit sync of a history (a backfill)', () => {
  let whole: Calls
  it('reads and writes each contact and company once, in calls of 100, and stores what simulate computes', async () => {
    const calls = (whole = await backfill())
    const dump = emulator.dump()
    // By email, then by the userIds no record carries: two reads per 100 new contacts.
    expect(calls.byEndpoint['POST /crm/v3/objects/contacts/batch/read']).toBeLessThanOrEqual(2 * per100(dump.contacts.length))
    expect(writes(calls, 'contacts')).toBe(per100(dump.contacts.length))
    expect(writes(calls, 'companies')).toBe(per100(dump.companies.length))
    expect(calls.byEndpoint['POST /crm/v3/objects/companies/batch/read']).toBe(per100(dump.companies.length))
    expect(calls.byEndpoint['POST /crm/v4/associations/contacts/companies/batch/associate/default']).toBe(per100(dump.associations.length))

    const simulated = await runCaptured(['simulate', '--model', MODEL, '--events', 'events.jsonl', '--now', NOW, '--json'], dir)
    const expected = (JSON.parse(simulated.stdout) as { subject: string; id: string; properties: Record<string, unknown> }[]).filter(
      (subject) => subject.subject === 'contact'
    )
    const stored = new Map(dump.contacts.map((contact) => [contact.properties.email ?? `user:${contact.properties.pqlkit_user_id}`, contact.properties]))
    expect(stored.size).toBe(expected.length)
    for (const subject of expected) expect(stored.get(subject.id)?.pql_score).toBe(String(subject.properties.pql_score))
  }, 60_000)

  it('--batch-size bounds the batch instead: a subject is read and written again in each batch it appears in', async () => {
    const batched = await backfill('--batch-size', '500')
    expect(writes(batched, 'contacts')).toBeGreaterThan(writes(whole, 'contacts'))
    expect(batched.calls).toBeGreaterThan(whole.calls)
  }, 60_000)
})
