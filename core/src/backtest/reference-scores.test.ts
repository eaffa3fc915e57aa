import { loadModel } from '../model/load'
import type { ProductEvent } from '../engine/event'
import { simulate } from '../engine/simulate'
import { Outcome } from './outcomes'
import { backtestSection, scoreAtReference } from './reference-scores'

const T0 = Date.parse('2026-10-01T09:00:00.000Z')
const DAY = 86_400_000
const iso = (at: number) => new Date(at).toISOString()

const model = loadModel(`
version: 1
name: reference
signals:
  projects: { count: "Project Created" }
  invited: { flag: "Teammate Invited" }
  last: { last_seen: "*" }
scores:
  - property: pql_score
    activity: last
    rules:
      - { label: Projects, per: projects, points: 10, cap: 30 }
      - { label: Invited, when: invited, points: 40 }
    decay: { after: 7d, every: 7d, points: 10 }
    tiers: { Cold: 0, Hot: 60 }
company:
  signals:
    company_projects: { count: "Project Created" }
  scores:
    - property: company_score
      rules:
        - { label: Company projects, per: company_projects, points: 5 }
`)

let sequence = 0
function track(email: string, at: number, event = 'Project Created', groupId?: string): ProductEvent {
  return {
    kind: 'track',
    messageId: `m-${String(++sequence).padStart(4, '0')}`,
    timestamp: iso(at),
    email,
    event,
    ...(groupId ? { company: { groupId } } : {})
  }
}

const outcome = (id: string, convertedAt?: number): Outcome => ({ id, convertedAt, line: 0 })

describe('scoreAtReference', () => {
  const events = [
    track('ada@acme.io', T0),
    track('ada@acme.io', T0 + DAY, 'Teammate Invited'),
    track('ada@acme.io', T0 + 5 * DAY),
    track('bob@acme.io', T0),
    track('bob@acme.io', T0 + 2 * DAY),
    track('cat@acme.io', T0 + 3 * DAY)
  ]

  it('scores a converter `lead` before converting: later events do not count', () => {
    const result = scoreAtReference(model, events, [outcome('ada@acme.io', T0 + 4 * DAY)], { subject: 'contact', leadMs: 2 * DAY })
    const [ada] = result.subjects
    expect(ada.referenceAt).toBe(T0 + 2 * DAY)
    // One project and the invitation; the project of day 5 comes after the reference.
    expect(ada.score).toBe(50)
    expect(ada.contributions).toEqual([10, 40])
    expect(ada.converted).toBe(true)
    expect(ada.tier).toBe('Cold')
  })

  it('counts an event at the reference time itself, as simulate does at --now', () => {
    const result = scoreAtReference(model, events, [outcome('ada@acme.io', T0 + 5 * DAY)], { subject: 'contact', leadMs: 0 })
    expect(result.subjects[0].score).toBe(60)
    expect(result.subjects[0].tier).toBe('Hot')
  })

  it('scores the others at the end of the data, exactly as simulate does', () => {
    const result = scoreAtReference(model, events, [outcome('bob@acme.io'), outcome('cat@acme.io')], { subject: 'contact', leadMs: 0 })
    const simulated = simulate(model, events)
    for (const scored of result.subjects) {
      expect(scored.referenceAt).toBe(T0 + 5 * DAY)
      const report = simulated.subjects.find((subject) => subject.id === scored.id)!
      expect(scored.score).toBe(report.properties.pql_score)
    }
    expect(result.subjects.map((subject) => [subject.id, subject.score])).toEqual([
      ['bob@acme.io', 20],
      ['cat@acme.io', 10]
    ])
    expect(result.endOfData).toBe(T0 + 5 * DAY)
  })

  it('scores the others at --as-of, with decay up to then', () => {
    const asOf = T0 + 20 * DAY
    const result = scoreAtReference(model, events, [outcome('bob@acme.io')], { subject: 'contact', leadMs: 0, asOf })
    // 20 points, inactive 18 days: 7d → -10, 14d → -20, so 0.
    expect(result.subjects[0].score).toBe(simulate(model, events, asOf).subjects.find((s) => s.id === 'bob@acme.io')!.properties.pql_score)
    expect(result.subjects[0].score).toBe(0)
  })

  it('scores a listed subject without events from an empty state, and counts unlisted subjects', () => {
    const result = scoreAtReference(model, events, [outcome('dan@acme.io', T0), outcome('ada@acme.io')], { subject: 'contact', leadMs: 0 })
    const dan = result.subjects.find((subject) => subject.id === 'dan@acme.io')!
    expect(dan).toMatchObject({ score: 0, seen: false, converted: true, contributions: [0, 0] })
    expect(result.subjects.find((subject) => subject.id === 'ada@acme.io')!.seen).toBe(true)
    expect(result.unlisted).toBe(2)
  })

  it('scores companies by key over all their contacts’ events', () => {
    const companyEvents = [
      track('ada@acme.io', T0, 'Project Created', 'co_1'),
      track('bob@acme.io', T0 + DAY, 'Project Created', 'co_1'),
      track('bob@acme.io', T0 + 3 * DAY, 'Project Created', 'co_1'),
      track('cat@beta.io', T0 + 3 * DAY, 'Project Created', 'co_2')
    ]
    const result = scoreAtReference(model, companyEvents, [outcome('co_1', T0 + 2 * DAY), outcome('co_2')], { subject: 'company', leadMs: 0 })
    expect(result.subjects.map((subject) => [subject.id, subject.score])).toEqual([
      ['co_1', 10],
      ['co_2', 5]
    ])
  })

  it('reports progress through the whole replay', () => {
    const calls: [number, number][] = []
    scoreAtReference(model, events, [outcome('ada@acme.io')], { subject: 'contact', leadMs: 0, onProgress: (done, total) => calls.push([done, total]) })
    expect(calls[calls.length - 1]).toEqual([events.length, events.length])
  })

  it('names what is missing when the model cannot be backtested for a subject', () => {
    const contactsOnly = loadModel('version: 1\nname: x\nsignals:\n  p: { count: "P" }\nscores:\n  - property: s\n    rules: [{ when: p, points: 1 }]\n')
    expect(backtestSection(contactsOnly, 'company')).toBe('the model has no company section')
    expect(() => scoreAtReference(contactsOnly, [], [], { subject: 'company', leadMs: 0 })).toThrow('the model has no company section')
    const noScore = loadModel('version: 1\nname: x\nsignals:\n  p: { count: "P" }\n')
    expect(backtestSection(noScore, 'contact')).toBe('the model has no contact score')
  })
})
