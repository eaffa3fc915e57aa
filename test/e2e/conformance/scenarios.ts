import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateEvents, Profile, SegmentMessage } from '@pqlkit/core'
import { REPO_ROOT } from '../../repo-root'

/** A Segment-spec message, as every host's SDK sends it (a userId is optional). */
export type Message = Omit<SegmentMessage, 'userId'> & { userId?: string }

/**
 * An event stream, the model it runs under (with the mappings each host takes its own way,
 * docs/mappings.md), when to evaluate, and later dates to sweep at.
 */
export type Scenario = { name: string; model: string; mappings?: unknown[]; messages: Message[]; now: string; sweeps: string[] }

/** A seeded shuffle (mulberry32), so a failure replays. */
export function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}

const DAY = 86_400_000
const T0 = Date.parse('2026-10-01T09:00:00.000Z')
const at = (days: number, minutes = 0) => new Date(T0 + days * DAY + minutes * 60_000).toISOString()

let sequence = 0
const id = () => `conformance-${String(++sequence).padStart(6, '0')}`

function track(who: { email?: string; userId?: string }, event: string, time: string, properties: Record<string, unknown> = {}, groupId?: string): Message {
  return {
    type: 'track',
    messageId: id(),
    timestamp: time,
    userId: who.userId,
    event,
    properties,
    context: { ...(who.email ? { traits: { email: who.email } } : {}), ...(groupId ? { groupId } : {}) }
  }
}
function identify(email: string, userId: string | undefined, traits: Record<string, unknown>, time: string): Message {
  return { type: 'identify', messageId: id(), timestamp: time, userId, traits: { email, ...traits } }
}
function group(email: string, groupId: string, traits: Record<string, unknown>, time: string): Message {
  return { type: 'group', messageId: id(), timestamp: time, groupId, traits, context: { traits: { email } } }
}

const example = (file: string) => readFileSync(join(REPO_ROOT, 'examples', file), 'utf8')

function generated(profile: Profile, file: string, seed: number): Scenario {
  return {
    name: `examples/${file} on a generated ${profile} stream`,
    model: example(file),
    messages: generateEvents({ profile, users: 40, days: 30, end: '2026-11-01T00:00:00.000Z', seed }),
    now: '2026-11-01T00:00:00.000Z',
    sweeps: ['2026-11-15T00:00:00.000Z']
  }
}

const DECAY_MODEL = `
version: 1
name: decay kinds
signals:
  projects: { count: "Project Created" }
  last_activity: { last_seen: "*" }
scores:
  - property: linear_score
    activity: last_activity
    rules: [{ label: Projects, per: projects, points: 20, cap: 100 }]
    decay: { after: 7d, every: 7d, points: 15 }
  - property: half_life_score
    activity: last_activity
    rules: [{ label: Projects, per: projects, points: 20, cap: 100 }]
    decay: { half_life: 14d }
  - property: steps_score
    activity: last_activity
    rules: [{ label: Projects, per: projects, points: 20, cap: 100 }]
    decay: { steps: [{ after: 7d, keep: 0.5 }, { after: 30d, keep: 0 }] }
`

const TEAM_MODEL = `
version: 1
name: teammates
signals:
  teammates: { count: "Teammate Invited" }
scores:
  - property: pql_score
    rules:
      - { label: Invited 2+, when: teammates >= 2, points: 30 }
      - { label: Invited 5+, when: teammates >= 5, points: 40 }
    tiers: { Cold: 0, Warm: 30, Hot: 70 }
handoff:
  - on: { enters: Hot }
    slack: { webhook: "https://hooks.slack.com/services/T0/B0/conformance" }
    task: { title: "PQL: {{email}} ({{score}})", due: 0d }
`

const COMPANY_MODEL = `
version: 1
name: company
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, points: 10, cap: 50 }]
company:
  signals:
    users: { distinct_users: "*" }
    active_users_l7d: { distinct_users: "*", window: 7d }
    company_projects: { count: "Project Created" }
    plan: { trait: plan }
  scores:
    - property: account_score
      rules:
        - { label: Users, per: users, points: 20, cap: 80 }
        - { label: Paying, when: plan == "team", points: 20 }
`

/** A model defined half by mappings: its own signals beside mapped ones, scores over both. */
const HALF_MAPPED_MODEL = `
version: 1
name: half mapped
signals:
  projects: { count: "Project Created" }
  last_activity: { last_seen: "*" }
scores:
  - property: pql_score
    activity: last_activity
    rules:
      - { label: Projects, per: projects, points: 10, cap: 30 }
      - { label: Reports, per: reports_l30d, points: 5, cap: 20 }
      - { label: Spend, per: spend_total, every: 50, points: 5, cap: 20 }
      - { label: Team plan, when: plan == "team", points: 20 }
      - { label: Integrations, when: integrations >= 2, points: 10 }
      - { label: Reporter, when: days_since(first_report) <= 14, points: 5 }
    decay: { after: 7d, every: 7d, points: 10 }
    tiers: { Cold: 0, Warm: 30, Hot: 60 }
company:
  signals:
    users: { distinct_users: "*" }
  scores:
    - property: account_score
      rules:
        - { label: Users, per: users, points: 20, cap: 60 }
        - { label: Account reports, per: account_reports, points: 5, cap: 40 }
`
const HALF_MAPPED_MAPPINGS = [
  { property: 'reports_l30d', aggregation: 'count', event: 'Report Created', window: '30d' },
  { property: 'spend_total', aggregation: 'sum', event: 'Order Completed', value: 'amount' },
  { property: 'plan', aggregation: 'latest', event: 'Plan Changed', value: 'plan' },
  { property: 'integrations', aggregation: 'distinct', event: 'Integration Connected', value: 'integration' },
  { property: 'first_report', aggregation: 'first_seen', event: 'Report Created' },
  { property: 'account_reports', object: 'company', aggregation: 'count', event: ['Report Created', 'Report Shared'] }
]

function halfMappedMessages(): Message[] {
  const ada = { email: 'ada@acme.io', userId: 'u-ada' }
  const bob = { email: 'bob@acme.io', userId: 'u-bob' }
  const cy = { email: 'cy@globex.com' }
  const messages: Message[] = [
    group('ada@acme.io', 'acme', { name: 'Acme', domain: 'acme.io' }, at(0)),
    track(ada, 'Project Created', at(0, 5), {}, 'acme'),
    track(ada, 'Report Created', at(1), {}, 'acme'),
    track(ada, 'Report Created', at(25)),
    track(ada, 'Report Shared', at(26)),
    track(ada, 'Order Completed', at(27), { amount: 120 }),
    track(ada, 'Order Completed', at(28), { amount: '35.5' }),
    track(ada, 'Plan Changed', at(27, 10), { plan: 'free' }),
    track(ada, 'Plan Changed', at(29), { plan: 'team' }),
    track(ada, 'Integration Connected', at(29, 5), { integration: 'Slack' }),
    track(ada, 'Integration Connected', at(29, 6), { integration: 'GitHub' }),
    track(ada, 'Integration Connected', at(29, 7), { integration: 'Slack' }),
    track(bob, 'Project Created', at(20), {}, 'acme'),
    track(bob, 'Report Created', at(30)),
    track(bob, 'Order Completed', at(30, 1), { amount: 'n/a' }),
    track(cy, 'Report Created', at(31)),
    track(cy, 'Plan Changed', at(31, 1), { plan: 'team' })
  ]
  // A re-delivered message: every host counts it once, toward each mapping.
  return [...messages, messages[3]]
}

export const SCENARIOS: Scenario[] = [
  generated('project-management', 'project-management.yaml', 11),
  generated('analytics', 'analytics.yaml', 12),
  generated('async-video', 'async-video.yaml', 13),
  {
    name: 'activation, then inactivity, under each decay kind (swept at later dates)',
    model: DECAY_MODEL,
    messages: [
      ...['ada@acme.io', 'bob@acme.io'].flatMap((email, n) => [0, 1, 2].map((k) => track({ email }, 'Project Created', at(n, k * 30)))),
      track({ email: 'cy@acme.io' }, 'Project Created', at(20))
    ],
    now: at(21),
    sweeps: [at(30), at(45), at(80)]
  },
  {
    name: 'teammates crossing 2 and 5, a hand-off on entering Hot',
    model: TEAM_MODEL,
    messages: [
      ...[1, 2, 3, 4, 5, 6].map((k) => track({ email: 'ada@acme.io' }, 'Teammate Invited', at(k))),
      ...[1, 2].map((k) => track({ email: 'bob@acme.io' }, 'Teammate Invited', at(k)))
    ],
    now: at(10),
    sweeps: []
  },
  {
    name: 'a company with several users',
    model: COMPANY_MODEL,
    messages: [
      group('ada@acme.io', 'acme', { name: 'Acme', domain: 'acme.io', plan: 'team' }, at(0)),
      ...['ada@acme.io', 'bob@acme.io', 'cy@acme.io', 'dee@acme.io'].flatMap((email, n) => [
        track({ email }, 'Project Created', at(n), {}, 'acme'),
        track({ email }, 'Project Created', at(n + 6))
      ]),
      group('eve@globex.com', 'globex', { name: 'Globex', plan: 'free' }, at(1)),
      track({ email: 'eve@globex.com' }, 'Project Created', at(2), {}, 'globex')
    ],
    now: at(9),
    sweeps: [at(20)]
  },
  {
    name: 'tracks by userId only, then an identify with email and userId',
    model: COMPANY_MODEL,
    messages: [
      track({ userId: 'u-ada' }, 'Project Created', at(0), {}, 'acme'),
      track({ userId: 'u-ada' }, 'Project Created', at(1)),
      identify('ada@acme.io', 'u-ada', { plan: 'team' }, at(2)),
      track({ userId: 'u-ada' }, 'Project Created', at(3)),
      track({ userId: 'u-solo' }, 'Project Created', at(3))
    ],
    now: at(4),
    sweeps: []
  },
  {
    // No sweeps: RudderStack's pasted model holds the mappings as ordinary signals, whose
    // state a sweep with the mappings would not continue (docs/mappings.md).
    name: 'a model defined half by mappings',
    model: HALF_MAPPED_MODEL,
    mappings: HALF_MAPPED_MAPPINGS,
    messages: halfMappedMessages(),
    now: at(32),
    sweeps: []
  }
]
