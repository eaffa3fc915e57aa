import fc from 'fast-check'
import { loadModel } from '../model/load'
import { applyEvents } from './aggregate'
import { attributeToCompanies } from './company'
import { evaluateContact, evaluateSection, PropertyValue } from './evaluate'
import { ProductEvent, validateEvent } from './event'
import { decodeState, encodeState, SubjectState } from './state'

/**
 * SPEC §3.1: "the same events, in any order and any batching, give the same signal values",
 * and §4: a retried batch never double-counts. Rules here have no `once` on windowed
 * conditions (whose marks depend on when evaluations happen, by design).
 */
const model = loadModel(`
version: 1
name: invariance
signals:
  activated:        { flag: "Project Created" }
  first_project:    { first_seen: "Project Created" }
  projects:         { count: "Project Created" }
  projects_l7d:     { count: "Project Created", window: 7d }
  api_calls_l7d:    { sum: "API Call", of: calls, window: 7d }
  api_calls:        { sum: "API Call", of: calls }
  integrations:     { distinct: "Integration Connected", of: integration }
  integrations_l14d: { distinct: "Integration Connected", of: integration, window: 14d }
  active_l30d:      { active_days: "*", window: 30d }
  slack_connected:  { flag: { event: "Integration Connected", where: 'integration == "slack"' } }
  last_activity:    { last_seen: "*" }
  plan:             { trait: plan }
scores:
  - property: pql_score
    activity: last_activity
    rules:
      - { label: Activated, when: activated, points: 25 }
      - { label: Busy week, when: projects_l7d >= 2, points: 15 }
      - { label: Integrations, when: integrations >= 2, points: 30, once: true }
      - { label: API, per: api_calls_l7d, every: 10, points: 1, cap: 20 }
      - { label: Paying, when: plan == "paying", points: 20 }
      - { label: Quiet, when: days_since(last_activity) > 3, points: -5 }
    decay: { after: 7d, every: 7d, points: 10 }
    tiers: { Cold: 0, Warm: 30, Hot: 60 }
company:
  signals:
    users:        { distinct_users: "*" }
    projects:     { count: "Project Created" }
    company_plan: { trait: plan }
  scores:
    - property: account_score
      rules:
        - { label: Team, when: users >= 2, points: 50 }
        - { per: projects, points: 5, cap: 40 }
`)

const NOW = Date.parse('2026-03-31T12:00:00.000Z')
const DAY = 86_400_000
const CONTACTS = [
  { email: 'ada@acme.io', userId: 'u1', company: 'acme' },
  { email: 'bob@acme.io', userId: 'u2', company: 'acme' },
  { email: 'cy@globex.com', userId: 'u3', company: 'globex' }
]

const eventArbitrary = fc.record({
  contact: fc.integer({ min: 0, max: CONTACTS.length - 1 }),
  kind: fc.constantFrom('track', 'track', 'track', 'identify', 'group'),
  name: fc.constantFrom('Project Created', 'API Call', 'Integration Connected', 'Page Viewed'),
  calls: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }).map(String), fc.constant('lots')),
  integration: fc.constantFrom('slack', 'Slack', 'github', 'jira', undefined),
  plan: fc.constantFrom('free', 'trial', 'paying'),
  // Up to 40 days back, so windows see events fall out; the same millisecond happens often.
  ageMs: fc.oneof(fc.integer({ min: 0, max: 40 * DAY }), fc.constantFrom(0, DAY, 7 * DAY, 7 * DAY + 1))
})

type Generated = typeof eventArbitrary extends fc.Arbitrary<infer T> ? T : never

function toEvents(generated: Generated[]): ProductEvent[] {
  return generated.map((g, index) => {
    const who = CONTACTS[g.contact]
    const base = {
      messageId: `m-${index}`,
      timestamp: new Date(NOW - g.ageMs).toISOString(),
      email: who.email,
      userId: who.userId,
      company: { groupId: who.company }
    }
    if (g.kind === 'identify') return { ...base, kind: 'identify', traits: { plan: g.plan } }
    if (g.kind === 'group') return { ...base, kind: 'group', traits: { plan: g.plan, name: who.company } }
    return { ...base, kind: 'track', event: g.name, properties: { calls: g.calls, integration: g.integration } }
  })
}

type Store = { contacts: Map<string, string>; companies: Map<string, string> }

/** One batch through the engine, with state stored as text between batches as in HubSpot. */
function processBatch(store: Store, batch: ProductEvent[]): void {
  const byContact = new Map<string, ProductEvent[]>()
  for (const event of batch) byContact.set(event.email!, [...(byContact.get(event.email!) ?? []), event])
  const byCompany = new Map<string, { state: SubjectState }>()
  for (const [email, events] of byContact) {
    const { state } = decodeState(store.contacts.get(email))
    const valid = events.map((event) => validateEvent(event, NOW))
    const { accepted } = applyEvents(model.contact, state, valid.map((event) => ({ event, contact: email })), NOW)
    for (const [key, attributed] of attributeToCompanies(model, state, email, email, accepted)) {
      const company = byCompany.get(key) ?? { state: decodeState(store.companies.get(key)).state }
      applyEvents(model.company!, company.state, attributed, NOW)
      byCompany.set(key, company)
    }
    store.contacts.set(email, encodeState(state))
  }
  for (const [key, { state }] of byCompany) store.companies.set(key, encodeState(state))
}

function finalProperties(store: Store): Record<string, Record<string, PropertyValue>> {
  const result: Record<string, Record<string, PropertyValue>> = {}
  for (const [email, text] of [...store.contacts].sort()) {
    result[email] = evaluateContact(model, decodeState(text).state, NOW).properties
  }
  for (const [key, text] of [...store.companies].sort()) {
    result[`company:${key}`] = evaluateSection(model.company!, decodeState(text).state, NOW).properties
  }
  return result
}

function run(batches: ProductEvent[][]): Record<string, Record<string, PropertyValue>> {
  const store: Store = { contacts: new Map(), companies: new Map() }
  for (const batch of batches) processBatch(store, batch)
  return finalProperties(store)
}

/** Splits a list at the given cut points (taken modulo its length). */
function split<T>(list: T[], cuts: number[]): T[][] {
  const points = [...new Set(cuts.map((cut) => cut % (list.length + 1)))].sort((a, b) => a - b)
  const batches: T[][] = []
  let start = 0
  for (const point of [...points, list.length]) {
    if (point > start) batches.push(list.slice(start, point))
    start = Math.max(start, point)
  }
  return batches
}

const streams = fc.array(eventArbitrary, { minLength: 1, maxLength: 120 })

describe('order, batching and duplicates never change the result', () => {
  it('shuffling the events gives the same signals and scores', () => {
    fc.assert(
      fc.property(streams.chain((generated) => fc.tuple(fc.constant(generated), fc.shuffledSubarray(toEvents(generated), { minLength: generated.length }))), ([generated, shuffled]) => {
        expect(run([shuffled])).toEqual(run([toEvents(generated)]))
      }),
      { numRuns: 150, seed: 20261122 }
    )
  })

  it('any batch boundaries give the same signals and scores', () => {
    fc.assert(
      fc.property(streams, fc.array(fc.nat(), { maxLength: 10 }), (generated, cuts) => {
        const events = toEvents(generated)
        expect(run(split(events, cuts))).toEqual(run([events]))
      }),
      { numRuns: 150, seed: 20261122 }
    )
  })

  it('delivering every event twice, in any batches, gives the same signals and scores', () => {
    fc.assert(
      fc.property(streams, fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (generated, cuts, sameBatch) => {
        const events = toEvents(generated)
        const batches = split(events, cuts)
        const redelivered = sameBatch ? batches.map((batch) => [...batch, ...batch]) : [...batches, ...batches]
        expect(run(redelivered)).toEqual(run([events]))
      }),
      { numRuns: 150, seed: 20261122 }
    )
  })

  it('a retried batch on stored state changes nothing', () => {
    fc.assert(
      fc.property(streams, (generated) => {
        const events = toEvents(generated)
        const store: Store = { contacts: new Map(), companies: new Map() }
        processBatch(store, events)
        const before = { contacts: new Map(store.contacts), companies: new Map(store.companies) }
        processBatch(store, events)
        expect(store.contacts).toEqual(before.contacts)
        expect(store.companies).toEqual(before.companies)
      }),
      { numRuns: 100, seed: 20261122 }
    )
  })

  it('the invariance is not vacuous: the generated streams produce non-zero scores', () => {
    const sample = fc.sample(streams, { numRuns: 30, seed: 7 })
    const scores = sample.flatMap((generated) =>
      Object.entries(run([toEvents(generated)]))
        .filter(([key]) => !key.startsWith('company:'))
        .map(([, properties]) => Number(properties.pql_score))
    )
    expect(Math.max(...scores)).toBeGreaterThan(30)
  })
})
