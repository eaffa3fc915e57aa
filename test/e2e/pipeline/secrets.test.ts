import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT as ROOT } from '../../repo-root'

const TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555'
const WEBHOOK_SECRET = 'T0SECRET/B0SECRET/xoxoSecretPath'
const MODEL = `
version: 1
name: secrets
signals:
  projects: { count: "Project Created" }
  last_activity: { last_seen: "*" }
scores:
  - property: pql_score
    activity: last_activity
    rules: [{ label: Projects, per: projects, points: 50 }]
    tiers: { Cold: 0, Hot: 50 }
handoff:
  - on: { enters: Hot }
    slack: { webhook: "https://hooks.slack.com/services/${WEBHOOK_SECRET}" }
`

let emulator: Emulator
let dir: string
beforeAll(async () => {
  emulator = await startEmulator({ accessToken: TOKEN, rateLimit: { max: 10_000, intervalMs: 10_000 } })
  dir = mkdtempSync(join(tmpdir(), 'pqlkit-secrets-'))
  writeFileSync(join(dir, 'model.yaml'), MODEL)
  writeFileSync(
    join(dir, 'events.jsonl'),
    [
      JSON.stringify({ type: 'track', event: 'Project Created', messageId: 'm1', timestamp: '2026-03-01T10:00:00Z', properties: { email: 'ada@acme.io' } }),
      JSON.stringify({ type: 'track', event: 'Project Created', messageId: 'm2', timestamp: '2026-03-01T10:00:00Z' }),
      '{broken'
    ].join('\n')
  )
})
afterAll(() => emulator.stop())

async function capture(argv: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  let output = ''
  const write = { write: (text: string) => (output += text) }
  const code = await runCli(argv, { stdout: write, stderr: write, cwd: ROOT, env })
  return { code, output }
}

describe('secrets never appear in output', () => {
  const commands = () => [
    ['validate', join(dir, 'model.yaml')],
    ['bootstrap', '--model', join(dir, 'model.yaml')],
    ['sync', '--model', join(dir, 'model.yaml'), '--events', join(dir, 'events.jsonl'), '--now', '2026-03-02T00:00:00Z'],
    ['sweep', '--model', join(dir, 'model.yaml'), '--now', '2026-03-20T00:00:00Z']
  ]

  it('with the right token: every command runs, and neither the token nor the webhook path is printed', async () => {
    const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_URL: emulator.url }
    const outputs = []
    for (const argv of commands()) outputs.push(await capture(argv, env))
    const all = outputs.map((o) => o.output).join('\n')
    // The sync reports its two bad lines (and exits 1 for them).
    expect(outputs.map((o) => o.code)).toEqual([0, 0, 1, 0])
    expect(all).toContain('events.jsonl:2: invalid: email: the event has no identity')
    expect(all).toContain('events.jsonl:3: not valid JSON')
    expect(all).not.toContain(TOKEN)
    expect(all).not.toContain(WEBHOOK_SECRET)
  })

  it('with a wrong token: a clear authentication error, without either token', async () => {
    const wrong = 'pat-na1-wrong-0000-0000-0000-000000000000'
    const result = await capture(['sync', '--model', join(dir, 'model.yaml'), '--events', join(dir, 'events.jsonl')], {
      HUBSPOT_ACCESS_TOKEN: wrong,
      HUBSPOT_BASE_URL: emulator.url
    })
    expect(result.code).toBe(1)
    expect(result.output).toMatch(/answered 401 INVALID_AUTHENTICATION/)
    expect(result.output).not.toContain(wrong)
    expect(result.output).not.toContain(TOKEN)
  })

  it('without a token: says what to set', async () => {
    const result = await capture(['bootstrap', '--model', join(dir, 'model.yaml')], {})
    expect(result.code).toBe(1)
    expect(result.output).toContain('set HUBSPOT_ACCESS_TOKEN')
  })
})
