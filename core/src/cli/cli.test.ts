import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCaptured } from './captured'

const ROOT = join(__dirname, '..', '..', '..')
const EXAMPLES = join(ROOT, 'examples')

const run = (...argv: string[]) => runCaptured(argv, ROOT)

function scratch(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pqlkit-cli-')), name)
  writeFileSync(path, content)
  return path
}

const TINY_MODEL = `
version: 1
name: tiny
signals:
  projects: { count: "Project Created" }
  last_activity: { last_seen: "*" }
  plan: { trait: plan }
scores:
  - property: pql_score
    activity: last_activity
    rules:
      - { label: Projects, per: projects, points: 10, cap: 50 }
      - { label: Paying, when: plan == "paying", points: 40 }
    decay: { after: 7d, every: 7d, points: 10 }
    tiers: { Cold: 0, Hot: 50 }
handoff:
  - on: { enters: Hot }
    slack: { webhook: "https://hooks.slack.com/services/T1/B2/secret-path" }
`

const line = (message: object) => JSON.stringify(message)

describe('pqlkit validate', () => {
  it.each(['project-management.yaml', 'analytics.yaml', 'async-video.yaml'])('accepts examples/%s', async (file) => {
    const result = await run('validate', join('examples', file))
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('is valid')
    expect(result.stdout).toMatch(/tiers: .*Sales-Ready ≥ (80|75|70)/)
  })

  it('prints signals, rules and tiers, but never a webhook path', async () => {
    const result = await run('validate', scratch('tiny.yaml', TINY_MODEL))
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('projects')
    expect(result.stdout).toContain('+10 per 1 projects, cap 50')
    expect(result.stdout).toContain('tiers: Cold ≥ 0 · Hot ≥ 50')
    expect(result.stdout).toContain('https://hooks.slack.com/…')
    expect(result.stdout).not.toContain('secret-path')
  })

  it('exits 1 naming the rule and column of an unknown signal', async () => {
    const path = scratch('broken.yaml', TINY_MODEL.replace('when: plan == "paying"', 'when: projects > 1 and plann == "paying"'))
    const result = await run('validate', path)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('scores[0].rules[1].when')
    expect(result.stderr).toContain('unknown name "plann" at column 18')
    expect(result.stderr).toMatch(/broken\.yaml:\d+:\d+:/)
    expect(result.stdout).toBe('')
  })

  it('exits 1 for a file that does not exist, and 2 for a wrong command line', async () => {
    expect((await run('validate', 'nope.yaml')).code).toBe(1)
    expect((await run('validate')).code).toBe(2)
    expect((await run('frobnicate')).code).toBe(2)
    expect((await run('simulate', '--model', 'x.yaml')).stderr).toContain("required option '--events <file>' not specified")
    expect((await run('simulate', '--model', 'x.yaml', '--events', 'e.jsonl', '--bogus')).code).toBe(2)
  })
})

describe('pqlkit simulate', () => {
  const events = [
    line({ type: 'identify', messageId: 'i1', timestamp: '2026-03-01T09:00:00.000Z', userId: 'u1', traits: { email: 'Ada@Acme.io', plan: 'paying' } }),
    line({ type: 'track', messageId: 't1', timestamp: '2026-03-02T09:00:00.000Z', userId: 'u1', event: 'Project Created' }),
    line({ type: 'track', messageId: 't2', timestamp: '2026-03-03T09:00:00.000Z', userId: 'u2', event: 'Project Created', context: { traits: { email: 'bob@acme.io' } } }),
    line({ type: 'track', messageId: 't3', timestamp: '2026-03-20T09:00:00.000Z', userId: 'u2', event: 'Project Created', properties: { email: 'bob@acme.io' } })
  ].join('\n')

  it('--json prints one object per subject with the SPEC §7 shape', async () => {
    const result = await run('simulate', '--model', scratch('m.yaml', TINY_MODEL), '--events', scratch('e.jsonl', events), '--now', '2026-03-10T09:00:00Z', '--json')
    expect(result.code).toBe(0)
    const subjects = JSON.parse(result.stdout)
    expect(subjects.map((s: { id: string }) => s.id)).toEqual(['ada@acme.io', 'bob@acme.io'])
    const [ada, bob] = subjects
    expect(ada).toEqual({
      subject: 'contact',
      id: 'ada@acme.io',
      properties: {
        projects: 1,
        last_activity: '2026-03-02T09:00:00.000Z',
        plan: 'paying',
        pql_score: 40,
        pql_score_tier: 'Cold',
        pql_score_reasons: 'Paying (+40); Projects (+10); Inactive 8d (-10)',
        pql_score_updated_at: '2026-03-10T09:00:00.000Z'
      },
      reasons: {
        pql_score: [
          { label: 'Paying', points: 40 },
          { label: 'Projects', points: 10 },
          { label: 'Inactive 8d', points: -10 }
        ]
      },
      handoffs: [{ on: 'enters Hot', at: '2026-03-02T09:00:00.000Z' }]
    })
    // bob's second project is dated after --now: not applied.
    expect(bob.properties.projects).toBe(1)
    expect(bob.properties).not.toHaveProperty('plan')
    expect(result.stderr).toContain('1 events dated after --now were not applied')
  })

  it('prints a table of email, score, tier and top reasons by default', async () => {
    const result = await run('simulate', '--model', scratch('m.yaml', TINY_MODEL), '--events', scratch('e.jsonl', events))
    expect(result.code).toBe(0)
    const rows = result.stdout.split('\n')
    const header = rows.findIndex((row) => row.startsWith('email'))
    expect(rows[header]).toMatch(/^email\s+pql_score\s+tier\s+top reasons$/)
    expect(rows[header + 2]).toMatch(/^ada@acme\.io\s+30\s+Cold\s+Paying \(\+40\); Projects \(\+10\)/)
    expect(rows[header + 3]).toMatch(/^bob@acme\.io\s+20\s+Cold\s+Projects \(\+20\)$/)
    expect(result.stdout).toContain('pql_score tiers')
  })

  it('reports bad lines by number, still scores the rest, and exits 1', async () => {
    const bad = [events, '{not json', line({ type: 'track', messageId: 'x', timestamp: '2026-03-04T00:00:00Z', event: 'Project Created' })].join('\n')
    const result = await run('simulate', '--model', scratch('m.yaml', TINY_MODEL), '--events', scratch('e.jsonl', bad), '--json')
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('e.jsonl:5: not valid JSON')
    expect(result.stderr).toContain('e.jsonl:6: email: the event has no identity')
    expect(JSON.parse(result.stdout)).toHaveLength(2)
  })

  it('scores the bundled sample with the project-management example', async () => {
    const result = await run('simulate', '--model', 'examples/project-management.yaml', '--events', 'examples/sample-events.jsonl', '--now', '2026-11-01T00:00:00Z', '--json')
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const subjects = JSON.parse(result.stdout) as { subject: string; properties: Record<string, unknown> }[]
    const contacts = subjects.filter((s) => s.subject === 'contact')
    expect(contacts.length).toBeGreaterThanOrEqual(200)
    const tiers = new Set(contacts.map((c) => c.properties.pql_score_tier))
    expect([...tiers].sort()).toEqual(['Cold', 'Hot', 'Sales-Ready', 'Warm'])
    for (const contact of contacts) {
      expect(contact.properties.pql_score_updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    }
    expect(readFileSync(join(EXAMPLES, 'sample-events.jsonl'), 'utf8').split('\n').length).toBeGreaterThan(1000)
  })
})

describe('pqlkit generate', () => {
  it('with no options reproduces the committed sample byte for byte', async () => {
    const result = await run('generate')
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(readFileSync(join(EXAMPLES, 'sample-events.jsonl'), 'utf8'))
  })

  it('takes a profile, size and seed, and rejects nonsense with exit 2', async () => {
    const result = await run('generate', '--profile', 'async-video', '--users', '5', '--days', '7', '--seed', '3')
    const messages = result.stdout.trim().split('\n').map((text) => JSON.parse(text))
    expect(new Set(messages.map((m) => m.userId)).size).toBeLessThanOrEqual(5)
    expect(messages.some((m) => m.type === 'track')).toBe(true)
    expect((await run('generate', '--profile', 'crm')).code).toBe(2)
    expect((await run('generate', '--users', '0')).code).toBe(2)
  })
})

describe('--mappings (docs/mappings.md)', () => {
  const MODEL = join('examples', 'mappings', 'model.yaml')
  const MAPPINGS = join('examples', 'mappings', 'mappings.json')

  it('validate merges the mappings into the model and lists them as its signals', async () => {
    const result = await run('validate', MODEL, '--mappings', MAPPINGS)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Contact signals (3)')
    expect(result.stdout).toMatch(/revenue_total +sum +sum: "Order Completed", of: "amount"/)
    expect((await run('validate', MODEL)).stderr).toContain('scores[0].rules[1].when: rule "Spent 100+": unknown name "revenue_total"')
  })

  it('a bad mapping is reported in its file, with line, column and path', async () => {
    const bad = scratch('mappings.json', '[\n  { "property": "plan", "aggregation": "latest", "event": "Plan Changed" }\n]\n')
    const result = await run('validate', MODEL, '--mappings', bad)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`${bad}:2:3: [0].value: latest needs the value to read, such as amount`)
  })

  it('simulate scores what was mapped', async () => {
    const events = scratch(
      'events.jsonl',
      [
        { type: 'track', event: 'Report Created', messageId: 'r1', timestamp: '2026-10-20T10:00:00.000Z', userId: 'u1', context: { traits: { email: 'ada@acme.io' } } },
        { type: 'track', event: 'Order Completed', messageId: 'o1', timestamp: '2026-10-21T10:00:00.000Z', userId: 'u1', properties: { amount: 120 }, context: { traits: { email: 'ada@acme.io' } } },
        { type: 'track', event: 'Plan Changed', messageId: 'p1', timestamp: '2026-10-22T10:00:00.000Z', userId: 'u1', properties: { plan: 'paying' }, context: { traits: { email: 'ada@acme.io' } } }
      ]
        .map(line)
        .join('\n')
    )
    const result = await run('simulate', '--model', MODEL, '--mappings', MAPPINGS, '--events', events, '--json')
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout)[0].properties).toMatchObject({ reports_created_l30d: 1, revenue_total: 120, plan: 'paying', pql_score: 70, pql_score_tier: 'Hot' })
  })
})
