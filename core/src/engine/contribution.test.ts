import { loadModel } from '../model/load'
import type { AttributedEvent } from './aggregate'
import { applyToContacts, finishBatch } from './batch'
import {
  contributionToken,
  decodeContribution,
  encodeContribution,
  includedBy,
  MAX_CONTRIBUTION_CHARS,
  repairState
} from './contribution'
import { ProductEvent, validateEvent } from './event'
import { emptyState, SubjectState } from './state'

const NOW = Date.parse('2026-03-20T12:00:00.000Z')
const HOUR = 3_600_000

const model = loadModel(`
version: 1
name: contribution
signals:
  projects: { count: { event: "Project Created", where: 'template != "blank"' } }
  seats: { sum: "Seats Added", of: seats }
  plan: { trait: plan }
scores:
  - property: pql_score
    rules:
      - { label: Projects, per: projects, points: 10 }
      - { label: Seats, per: seats, points: 5 }
    tiers: { Cold: 0, Sales-Ready: 50 }
handoff:
  - on: { enters: Sales-Ready }
    task: { title: "PQL handoff: {{email}}" }
`)

let sequence = 0
const event = (input: Partial<ProductEvent>, at: number): AttributedEvent => ({
  event: validateEvent({ kind: 'track', messageId: `m-${++sequence}`, timestamp: new Date(at).toISOString(), email: 'ada@acme.io', ...input }, NOW),
  contact: 'ada@acme.io'
})

/** The batch step on one contact, as the pipeline runs it: its next state and contribution. */
function step(state: SubjectState, events: AttributedEvent[], included: string[] = []) {
  const applied = applyToContacts(model, [{ key: 'ada@acme.io', email: 'ada@acme.io', stored: { state, properties: {} }, events: events.map((e, index) => ({ index, event: e.event })) }], NOW)
  const [outcome] = finishBatch(model, applied, new Map(), NOW).contacts
  return { outcome, contribution: encodeContribution(model, 'contact', outcome.state, events, included) }
}

const copy = (state: SubjectState): SubjectState => structuredClone(state)

describe('contributions', () => {
  const base = step(emptyState(), [event({ event: 'Project Created', properties: { template: 'kanban' } }, NOW - 5 * HOUR)])
  const a = [event({ event: 'Project Created', properties: { template: 'kanban', secret: 'x'.repeat(500) } }, NOW - 4 * HOUR), event({ event: 'Seats Added', properties: { seats: 3 } }, NOW - 3 * HOUR)]
  const b = [event({ event: 'Project Created', properties: { template: 'scrum' } }, NOW - 2 * HOUR), event({ kind: 'identify', traits: { plan: 'paying', other: 1 } }, NOW - HOUR)]

  it('holds only what the model reads of each event', () => {
    const { text } = step(copy(base.outcome.state), a, base.contribution.included).contribution
    expect(text).not.toContain('secret')
    expect(text.length).toBeLessThan(400)
    const decoded = decodeContribution(text)!
    expect(decoded.events.map(({ event }) => event.properties)).toEqual([{ template: 'kanban' }, { seats: 3 }])
    expect(decoded.included).toEqual(base.contribution.included)
  })

  it('re-applying the contribution a concurrent write overwrote gives the state of both writes, in either order', () => {
    const both = step(step(copy(base.outcome.state), a).outcome.state, b).outcome
    const fromA = step(copy(base.outcome.state), a, base.contribution.included)
    const fromB = step(copy(base.outcome.state), b, base.contribution.included)
    for (const [kept, lost] of [
      [fromB, fromA],
      [fromA, fromB]
    ]) {
      const state = copy(kept.outcome.state)
      const history = [decodeContribution(base.contribution.text)!, decodeContribution(lost.contribution.text)!, decodeContribution(kept.contribution.text)!]
      const { repaired, included } = repairState(model, 'contact', state, history, kept.contribution.included, 'ada@acme.io', 'ada@acme.io', NOW)
      expect(repaired).toBe(1)
      expect(included).toEqual(expect.arrayContaining([...kept.contribution.included, contributionToken(lost.contribution.text)]))
      expect(step(state, []).outcome.properties).toEqual(step(copy(both.state), []).outcome.properties)
      expect(state.signals.projects.total).toBe(3)
      expect(state.signals.seats.total).toBe(3)
    }
  })

  it('a contribution the state includes, or whose events it already has, counts nothing twice', () => {
    const fromA = step(copy(base.outcome.state), a, base.contribution.included)
    const state = copy(fromA.outcome.state)
    const history = [decodeContribution(fromA.contribution.text)!]
    expect(repairState(model, 'contact', state, history, fromA.contribution.included, 'ada@acme.io', 'ada@acme.io', NOW).repaired).toBe(0)
    // Not listed (its token fell out), its events are still known by their message ids.
    expect(repairState(model, 'contact', state, history, [], 'ada@acme.io', 'ada@acme.io', NOW).repaired).toBe(1)
    expect(state.signals.projects.total).toBe(2)
    expect(state.signals.seats.total).toBe(3)
  })

  it('an overwritten crossing stays crossed: marks merge, so the repaired state does not enter the tier again', () => {
    const crossing = [event({ event: 'Seats Added', properties: { seats: 10 } }, NOW - HOUR)]
    const fromA = step(copy(base.outcome.state), crossing, base.contribution.included)
    expect(fromA.outcome.handoffs).toHaveLength(1)
    const fromB = step(copy(base.outcome.state), [event({ event: 'Seats Added', properties: { seats: 1 } }, NOW - HOUR)], base.contribution.included)
    const state = copy(fromB.outcome.state)
    repairState(model, 'contact', state, [decodeContribution(fromA.contribution.text)!], fromB.contribution.included, 'ada@acme.io', 'ada@acme.io', NOW)
    expect(step(state, []).outcome.handoffs).toEqual([])
    expect(state.handoffMarks).toEqual(fromA.outcome.state.handoffMarks)
  })

  it('a contribution too large for a property keeps its marks only; anything else is no contribution', () => {
    const many = Array.from({ length: 2_000 }, (_, i) => event({ event: 'Project Created', properties: { template: `t${i}` } }, NOW - HOUR))
    const { text } = step(copy(base.outcome.state), many).contribution
    expect(text.length).toBeLessThanOrEqual(MAX_CONTRIBUTION_CHARS + 1_000)
    expect(decodeContribution(text)).toMatchObject({ events: [], partial: true })
    for (const garbage of ['', 'not json', '{"t":1}', '{"t":"a","i":[],"e":[{"k":"z"}],"h":{},"o":{},"k":{}}']) expect(decodeContribution(garbage)).toBeUndefined()
    expect(includedBy(undefined)).toEqual([])
    expect(includedBy('{"t":"abc","i":["x","y"],"e":[]}')).toEqual(['x', 'y', 'abc'])
  })
})
