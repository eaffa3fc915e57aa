import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCaptured } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'

const MODEL = `
version: 1
name: json
signals:
  projects: { count: "Project Created" }
  last_activity: { last_seen: "*" }
scores:
  - property: pql_score
    activity: last_activity
    rules: [{ label: Projects, per: projects, points: 50 }]
    decay: { after: 7d, every: 7d, points: 10 }
    tiers: { Cold: 0, Hot: 50 }
`

const track = (email: string, messageId: string) =>
  JSON.stringify({ type: 'track', event: 'Project Created', messageId, timestamp: '2026-03-01T10:00:00Z', properties: { email } })

let emulator: Emulator
let dir: string
let env: Record<string, string>
beforeAll(async () => {
  emulator = await startEmulator({ accessToken: 'local', rateLimit: { max: 10_000, intervalMs: 10_000 } })
  env = { HUBSPOT_ACCESS_TOKEN: 'local', HUBSPOT_BASE_URL: emulator.url }
  dir = mkdtempSync(join(tmpdir(), 'pqlkit-json-'))
  writeFileSync(join(dir, 'model.yaml'), MODEL)
  writeFileSync(join(dir, 'events.jsonl'), [track('ada@acme.io', 'm1'), track('bob@acme.io', 'm2'), '{broken'].join('\n'))
})
afterAll(async () => {
  await emulator.stop()
  rmSync(dir, { recursive: true, force: true })
})

const cli = (...argv: string[]) => runCaptured([...argv, '--model', join(dir, 'model.yaml'), '--json'], dir, env)

describe('--json: the HubSpot commands print their summary as one object', () => {
  it('bootstrap, sync and sweep', async () => {
    const bootstrap = await cli('bootstrap')
    expect(bootstrap.code).toBe(0)
    const created = JSON.parse(bootstrap.stdout) as { created: string[]; existing: number }
    expect(created.created).toContain('contacts.pql_score')
    const again = JSON.parse((await cli('bootstrap')).stdout) as { created: string[]; existing: number }
    expect(again.created).toEqual([])
    expect(again.existing).toBeGreaterThan(created.existing)

    const sync = await cli('sync', '--events', 'events.jsonl', '--now', '2026-03-02T00:00:00Z')
    expect(sync.code).toBe(1) // the broken line
    expect(sync.stderr).toContain('events.jsonl:3: not valid JSON')
    const synced = JSON.parse(sync.stdout)
    expect(synced).toMatchObject({ events: { synced: 2, invalid: 1, retryable: 0 }, writes: { contacts: 2, companies: 0 }, handoffs: 0, problems: [] })
    expect(synced.calls.calls).toBeGreaterThan(0)
    expect(Object.values(synced.calls.byEndpoint as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(synced.calls.calls)

    const sweep = await cli('sweep', '--now', '2026-03-20T00:00:00Z')
    expect(sweep.code).toBe(0)
    expect(JSON.parse(sweep.stdout)).toMatchObject({ examined: 2, changed: 2, problems: [] })
  })
})
