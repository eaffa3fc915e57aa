import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { scoreAtReference } from '../backtest/reference-scores'
import { generateOutcomes, PROFILES } from '../generator/generate-events'
import { segmentMessageToProductEvent } from '../hosts/segment-message'
import { loadModel } from '../model/load'
import type { Model } from '../model/compile'
import type { ProductEvent } from './event'
import { simulate } from './simulate'

/**
 * The offline replay's output, pinned before the replay was rewritten for speed (issue #20):
 * `simulate` and `backtest` on seeded streams must give the same output, byte for byte, as
 * the implementation the snapshot was taken with. Each stream is a generator profile with
 * its events shuffled, some delivered twice and some without an email (a userId alone), so
 * replay order, deduplication and identity are all on the path.
 */

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples')
const END = '2026-11-01T00:00:00.000Z'

/** Companies from groups and email domains, every decay kind, once and per rules, a composite, both hand-off triggers with `unless`. */
const EVERY_KIND = `
version: 1
name: every kind
signals:
  activated:   { flag: "Project Created" }
  first:       { first_seen: "*" }
  last:        { last_seen: "*" }
  projects:    { count: "Project Created" }
  tasks_l7d:   { count: { event: "Task Created", where: assigned == true }, window: 7d }
  calls:       { sum: "API Call", of: calls }
  calls_l3d:   { sum: "API Call", of: calls, window: 3d }
  kinds:       { distinct: "*", of: integration }
  kinds_l14d:  { distinct: "Integration Connected", of: integration, window: 14d }
  days_l30d:   { active_days: "*", window: 30d }
  last_kind:   { latest: "Integration Connected", of: integration }
  plan:        { trait: plan }
  seats:       { trait: seats, type: number }
scores:
  - property: linear_score
    activity: last
    rules:
      - { label: Activated, when: activated, points: 30 }
      - { label: Projects, per: projects, every: 2, points: 5, cap: 40 }
      - { label: Busy week, when: tasks_l7d >= 5, points: 20, once: true }
      - { label: Integrations, when: kinds >= 1 and kinds_l14d >= 1, points: 25 }
      - { label: Quiet, when: days_since(last) > 2, points: -5 }
      - { label: Paying, when: plan == "paying" or seats > 3, points: 15 }
    decay: { after: 5d, every: 3d, points: 10 }
    tiers: { Cold: 0, Warm: 30, Hot: 70 }
  - property: half_score
    activity: last
    rules:
      - { label: Calls, per: calls_l3d, every: 5, points: 1, cap: 60 }
      - { label: Active, when: days_l30d >= 3, points: 30 }
      - { label: Started early, when: days_since(first) > 10, points: 10 }
    decay: { half_life: 4d }
    tiers: { Low: 0, High: 50 }
  - property: step_score
    activity: last
    rules:
      - { label: Any integration, when: last_kind != "", points: 50 }
      - { label: Tasks, per: tasks_l7d, points: 3, cap: 30 }
    decay: { steps: [{ after: 2d, keep: 0.5 }, { after: 6d, keep: 0.2 }] }
    tiers: { Cold: 0, Hot: 40 }
  - property: blend
    composite: { linear_score: 0.5, half_score: 0.3, step_score: 0.2 }
    tiers: { Cold: 0, Ready: 45 }
handoff:
  - on: { enters: Ready, score: blend }
    unless: plan == "paying"
    slack: { webhook: "https://hooks.slack.com/services/x" }
  - on: { rises_by: 20, within: 12h, score: linear_score }
    slack: { webhook: "https://hooks.slack.com/services/x" }
  - on: { enters: Hot }
    slack: { webhook: "https://hooks.slack.com/services/x" }
company:
  company_from_email: true
  signals:
    users:       { distinct_users: "*" }
    users_l7d:   { distinct_users: "*", window: 7d }
    projects:    { count: "Project Created" }
    days_l30d:   { active_days: "*", window: 30d }
    last:        { last_seen: "*" }
    plan:        { trait: plan }
  scores:
    - property: account_score
      activity: last
      rules:
        - { label: Users, per: users, points: 10, cap: 40 }
        - { label: Weekly users, when: users_l7d >= 2, points: 20 }
        - { label: Projects, per: projects, every: 3, points: 5, cap: 30 }
        - { label: Active, when: days_l30d >= 5, points: 10, once: true }
      decay: { half_life: 10d }
      tiers: { Cold: 0, Hot: 50 }
`

/** A seeded reordering with duplicates and email-less copies. */
function scramble(events: ProductEvent[], seed: number): ProductEvent[] {
  let x = seed
  const random = () => {
    x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x6d2b79f5) | 0
    return ((x >>> 0) % 1_000_000) / 1_000_000
  }
  const result: ProductEvent[] = []
  for (const event of events) {
    const roll = random()
    if (roll < 0.05) result.push(event, event)
    else if (roll < 0.1 && event.userId !== undefined) result.push({ ...event, email: undefined })
    else result.push(event)
  }
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[result[i], result[j]] = [result[j], result[i]]
  }
  return result
}

const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16)

function stream(profile: (typeof PROFILES)[number], seed: number) {
  const { messages, outcomes } = generateOutcomes({ profile, users: 80, days: 30, end: END, seed })
  const events = scramble(messages.map((message) => segmentMessageToProductEvent(message)), seed)
  return { events, outcomes: outcomes.map((outcome, index) => ({ line: index + 2, id: outcome.email, convertedAt: outcome.convertedAt === undefined ? undefined : Date.parse(outcome.convertedAt) })) }
}

function outputs(model: Model, profile: (typeof PROFILES)[number], seed: number) {
  const { events, outcomes } = stream(profile, seed)
  const simulated = simulate(model, events)
  const atEnd = simulate(model, events, Date.parse(END) + 9 * 86_400_000)
  const contacts = scoreAtReference(model, events, outcomes, { subject: 'contact', leadMs: 3 * 86_400_000 })
  const companyIds = simulated.subjects.filter((subject) => subject.subject === 'company').map((subject, index) => ({ line: index + 2, id: subject.id, convertedAt: undefined }))
  const companies = model.company?.scores.length ? scoreAtReference(model, events, companyIds, { subject: 'company', leadMs: 0 }) : undefined
  return {
    events: events.length,
    subjects: simulated.subjects.length,
    handoffs: simulated.subjects.reduce((sum, subject) => sum + subject.handoffs.length, 0),
    simulate: digest(simulated),
    simulateLater: digest(atEnd),
    backtestContacts: digest(contacts),
    backtestCompanies: companies && digest(companies)
  }
}

const models: [string, string][] = [
  ['project-management', readFileSync(join(EXAMPLES, 'project-management.yaml'), 'utf8')],
  ['analytics', readFileSync(join(EXAMPLES, 'analytics.yaml'), 'utf8')],
  ['async-video', readFileSync(join(EXAMPLES, 'async-video.yaml'), 'utf8')],
  ['every kind', EVERY_KIND]
]

describe('the offline replay gives the output it gave before it was made fast', () => {
  for (const [name, text] of models) {
    const model = loadModel(text, `${name}.yaml`)
    for (const [profile, seed] of [
      [PROFILES[0], 11],
      [PROFILES[1], 12],
      [PROFILES[2], 13]
    ] as const) {
      it(`${name} on the ${profile} stream (seed ${seed})`, () => {
        expect(outputs(model, profile, seed)).toMatchSnapshot()
      })
    }
  }
})
