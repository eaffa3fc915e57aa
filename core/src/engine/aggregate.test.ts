import type { Model } from '../model/compile'
import { loadModel } from '../model/load'
import { applyEvents, ApplyResult, MAX_DISTINCT, normalizeDomain, SignalValue, signalValue } from './aggregate'
import { validateEvent, ValidEvent } from './event'
import { emptyState, SubjectState } from './state'

const NOW = Date.parse('2026-03-10T12:00:00.000Z')
const HOUR = 3_600_000
const DAY = 24 * HOUR
const ADA = 'ada@acme.io'

/** A model whose contact signals are the given YAML lines (indented under `signals:`). */
function contactModel(signals: string): Model {
  return loadModel(`version: 1\nname: test\nsignals:\n${signals}`)
}

function companyModel(signals: string): Model {
  return loadModel(`version: 1\nname: test\nsignals: {}\ncompany:\n  signals:\n${signals}`)
}

let sequence = 0
type EventInput = {
  kind?: 'track' | 'identify' | 'group'
  event?: string
  at?: number | string
  messageId?: string
  email?: string
  properties?: Record<string, unknown>
  traits?: Record<string, unknown>
  groupId?: string
}

/** A validated event at `now`; `at` defaults to an hour before NOW. */
function event(input: EventInput, now = NOW): ValidEvent {
  const at = input.at ?? NOW - HOUR
  return validateEvent(
    {
      kind: input.kind ?? 'track',
      messageId: input.messageId ?? `m-${++sequence}`,
      timestamp: typeof at === 'string' ? at : new Date(at).toISOString(),
      email: input.email ?? ADA,
      event: input.kind === undefined || input.kind === 'track' ? input.event ?? 'Project Created' : undefined,
      properties: input.properties,
      traits: input.traits,
      company: input.groupId ? { groupId: input.groupId } : undefined
    },
    now
  )
}

type Subject = { model: Model; state: SubjectState; company: boolean }

function contact(model: Model): Subject {
  return { model, state: emptyState(), company: false }
}

function company(model: Model): Subject {
  return { model, state: emptyState(), company: true }
}

function apply(subject: Subject, events: ValidEvent[], now = NOW): ApplyResult {
  const section = subject.company ? subject.model.company! : subject.model.contact
  return applyEvents(
    section,
    subject.state,
    events.map((e) => ({ event: e, contact: e.email ?? `user:${e.userId}` })),
    now
  )
}

function value(subject: Subject, name: string, now = NOW): SignalValue {
  const section = subject.company ? subject.model.company! : subject.model.contact
  const signal = section.signals.find((candidate) => candidate.name === name)
  if (!signal) throw new Error(`no signal ${name}`)
  return signalValue(signal, subject.state, now)
}

describe('signal kinds (SPEC §3.1)', () => {
  it('flag is true once a matching event was seen', () => {
    const ada = contact(contactModel('  activated: { flag: "Project Created" }'))
    apply(ada, [event({ event: 'Teammate Invited' })])
    expect(value(ada, 'activated')).toBe(false)
    apply(ada, [event({ event: 'Project Created' })])
    expect(value(ada, 'activated')).toBe(true)
  })

  it('flag with a list of names matches any of them', () => {
    const ada = contact(contactModel('  paid: { flag: ["Automation Created", "Advanced Filter Used"] }'))
    apply(ada, [event({ event: 'Advanced Filter Used' })])
    expect(value(ada, 'paid')).toBe(true)
  })

  it('count counts matching events only', () => {
    const ada = contact(contactModel('  projects: { count: "Project Created" }'))
    apply(ada, [event({}), event({}), event({ event: 'Project Deleted' }), event({})])
    expect(value(ada, 'projects')).toBe(3)
  })

  it('event names match exactly, case included', () => {
    const ada = contact(contactModel('  projects: { count: "Project Created" }'))
    apply(ada, [event({ event: 'project created' }), event({ event: 'Project Created ' })])
    expect(value(ada, 'projects')).toBe(0)
  })

  it('sum adds numbers and numeric strings and ignores other values', () => {
    const ada = contact(contactModel('  calls: { sum: "API Call", of: calls }'))
    apply(ada, [
      event({ event: 'API Call', properties: { calls: 10 } }),
      event({ event: 'API Call', properties: { calls: '5' } }),
      event({ event: 'API Call', properties: { calls: '2.5' } }),
      event({ event: 'API Call', properties: { calls: 'lots' } }),
      event({ event: 'API Call', properties: { calls: '' } }),
      event({ event: 'API Call', properties: { calls: true } }),
      event({ event: 'API Call', properties: { calls: null } }),
      event({ event: 'API Call', properties: { calls: [3] } }),
      event({ event: 'API Call', properties: {} }),
      event({ event: 'Project Created', properties: { calls: 100 } })
    ])
    expect(value(ada, 'calls')).toBe(17.5)
  })

  it('sum reads a nested property path', () => {
    const ada = contact(contactModel('  calls: { sum: "API Call", of: usage.calls }'))
    apply(ada, [event({ event: 'API Call', properties: { usage: { calls: 4 } } }), event({ event: 'API Call', properties: { usage: { calls: 6 } } })])
    expect(value(ada, 'calls')).toBe(10)
  })

  it('distinct compares values as exact strings: Slack and slack are two', () => {
    const ada = contact(contactModel('  integrations: { distinct: "Integration Connected", of: integration }'))
    apply(ada, [
      event({ event: 'Integration Connected', properties: { integration: 'Slack' } }),
      event({ event: 'Integration Connected', properties: { integration: 'slack' } }),
      event({ event: 'Integration Connected', properties: { integration: 'Slack' } })
    ])
    expect(value(ada, 'integrations')).toBe(2)
  })

  it('distinct compares as strings: 1 and "1" are one value', () => {
    const ada = contact(contactModel('  versions: { distinct: "Deployed", of: version }'))
    apply(ada, [event({ event: 'Deployed', properties: { version: 1 } }), event({ event: 'Deployed', properties: { version: '1' } })])
    expect(value(ada, 'versions')).toBe(1)
  })

  it('distinct ignores absent and null values', () => {
    const ada = contact(contactModel('  integrations: { distinct: "Integration Connected", of: integration }'))
    apply(ada, [
      event({ event: 'Integration Connected', properties: { integration: null } }),
      event({ event: 'Integration Connected', properties: {} }),
      event({ event: 'Integration Connected' }),
      event({ event: 'Integration Connected', properties: { integration: 'github' } })
    ])
    expect(value(ada, 'integrations')).toBe(1)
  })

  it(`distinct is exact up to ${MAX_DISTINCT}, then stays ${MAX_DISTINCT}`, () => {
    const ada = contact(contactModel('  boards: { distinct: "Board Opened", of: board }'))
    const events = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => event({ event: 'Board Opened', properties: { board: `b-${from + i}` } }))
    apply(ada, events(0, 999))
    expect(value(ada, 'boards')).toBe(999)
    apply(ada, events(999, 1000))
    expect(value(ada, 'boards')).toBe(1000)
    apply(ada, events(1000, 1100))
    expect(value(ada, 'boards')).toBe(1000)
  })

  it(`windowed distinct also stays at ${MAX_DISTINCT}`, () => {
    const ada = contact(contactModel('  boards: { distinct: "Board Opened", of: board, window: 30d }'))
    apply(
      ada,
      Array.from({ length: 1050 }, (_, i) => event({ event: 'Board Opened', properties: { board: `b-${i}` } }))
    )
    expect(value(ada, 'boards')).toBe(1000)
  })

  it('active_days counts distinct UTC dates with a matching event', () => {
    const ada = contact(contactModel('  active: { active_days: "*", window: 30d }'))
    apply(ada, [
      event({ at: '2026-03-10T00:00:00.000Z' }),
      event({ at: '2026-03-10T11:59:59.999Z' }),
      event({ at: '2026-03-09T23:59:59.999Z' }),
      event({ at: '2026-03-01T08:00:00.000Z', event: 'API Call' })
    ])
    expect(value(ada, 'active')).toBe(3)
  })

  it('first_seen and last_seen are the times of the first and last matching event, in any order of arrival', () => {
    const ada = contact(contactModel('  first: { first_seen: "Project Created" }\n  last: { last_seen: "Project Created" }'))
    const middle = Date.parse('2026-03-05T10:00:00.000Z')
    const latest = Date.parse('2026-03-08T10:00:00.000Z')
    const earliest = Date.parse('2026-02-01T10:00:00.000Z')
    apply(ada, [event({ at: middle })])
    apply(ada, [event({ at: latest }), event({ at: earliest }), event({ at: NOW - 1, event: 'Other' })])
    expect(value(ada, 'first')).toEqual({ at: earliest })
    expect(value(ada, 'last')).toEqual({ at: latest })
  })

  it('trait keeps the value of the latest identify call by timestamp, whatever the arrival order', () => {
    const ada = contact(contactModel('  plan: { trait: plan }'))
    apply(ada, [event({ kind: 'identify', traits: { plan: 'paying' }, at: NOW - HOUR })])
    apply(ada, [event({ kind: 'identify', traits: { plan: 'trial' }, at: NOW - 2 * HOUR })])
    expect(value(ada, 'plan')).toBe('paying')
  })

  it('trait ties on timestamp go to the larger messageId', () => {
    const at = NOW - HOUR
    for (const order of [
      ['m-a', 'm-b'],
      ['m-b', 'm-a']
    ]) {
      const ada = contact(contactModel('  plan: { trait: plan }'))
      const traitsOf: Record<string, string> = { 'm-a': 'trial', 'm-b': 'paying' }
      for (const messageId of order) apply(ada, [event({ kind: 'identify', messageId, at, traits: { plan: traitsOf[messageId] } })])
      expect(value(ada, 'plan')).toBe('paying')
    }
  })

  it('trait keeps its value when a later identify call does not set it', () => {
    const ada = contact(contactModel('  plan: { trait: plan }'))
    apply(ada, [event({ kind: 'identify', traits: { plan: 'paying' }, at: NOW - 2 * HOUR })])
    apply(ada, [event({ kind: 'identify', traits: { role: 'admin' }, at: NOW - HOUR })])
    expect(value(ada, 'plan')).toBe('paying')
  })

  it('trait keeps the type it was sent with', () => {
    const ada = contact(contactModel('  seats: { trait: seats }\n  beta: { trait: beta }'))
    apply(ada, [event({ kind: 'identify', traits: { seats: 12, beta: true } })])
    expect(value(ada, 'seats')).toBe(12)
    expect(value(ada, 'beta')).toBe(true)
  })

  it('a contact trait reads identify calls, not group calls or track properties', () => {
    const ada = contact(contactModel('  plan: { trait: plan }'))
    apply(ada, [
      event({ kind: 'group', groupId: 'acme', traits: { plan: 'enterprise' } }),
      event({ properties: { plan: 'free' } })
    ])
    expect(value(ada, 'plan')).toBeUndefined()
  })

  it('a company trait reads group calls, not identify calls', () => {
    const acme = company(companyModel('    plan: { trait: plan }'))
    apply(acme, [event({ kind: 'identify', traits: { plan: 'free' }, at: NOW - HOUR })])
    expect(value(acme, 'plan')).toBeUndefined()
    apply(acme, [event({ kind: 'group', groupId: 'acme', traits: { plan: 'enterprise' }, at: NOW - 2 * HOUR })])
    expect(value(acme, 'plan')).toBe('enterprise')
  })

  it('distinct_users counts distinct contacts with a matching event on a company', () => {
    const acme = company(companyModel('    users: { distinct_users: "Project Created" }'))
    apply(acme, [
      event({ email: 'ada@acme.io' }),
      event({ email: 'bob@acme.io' }),
      event({ email: 'ada@acme.io' }),
      event({ email: 'cy@acme.io', event: 'Page Viewed' })
    ])
    expect(value(acme, 'users')).toBe(2)
  })

  it('windowed distinct_users forgets contacts seen only before the window', () => {
    const acme = company(companyModel('    users_l7d: { distinct_users: "*", window: 7d }'))
    apply(acme, [event({ email: 'ada@acme.io', at: NOW - 10 * DAY }), event({ email: 'bob@acme.io', at: NOW - DAY })])
    expect(value(acme, 'users_l7d')).toBe(1)
  })
})

describe('when there is nothing yet', () => {
  const model = contactModel(
    [
      '  activated: { flag: "Project Created" }',
      '  projects: { count: "Project Created" }',
      '  calls: { sum: "API Call", of: calls }',
      '  integrations: { distinct: "Integration Connected", of: integration }',
      '  active: { active_days: "*", window: 30d }',
      '  first: { first_seen: "Project Created" }',
      '  last: { last_seen: "*" }',
      '  plan: { trait: plan }'
    ].join('\n')
  )

  it('gives false, 0 or absent for a new subject', () => {
    const ada = contact(model)
    expect(['activated', 'projects', 'calls', 'integrations', 'active', 'first', 'last', 'plan'].map((name) => value(ada, name))).toEqual([
      false,
      0,
      0,
      0,
      0,
      undefined,
      undefined,
      undefined
    ])
  })

  it('gives 0 for distinct_users on a new company', () => {
    expect(value(company(companyModel('    users: { distinct_users: "*" }')), 'users')).toBe(0)
  })
})

describe('windows are whole UTC dates ending on the evaluation date', () => {
  const INSIDE = '2026-03-04T00:00:00.000Z'
  const OUTSIDE = '2026-03-03T23:59:59.999Z'

  it.each([
    ['count', '{ count: "Project Created", window: 7d }', {}],
    ['sum', '{ sum: "Project Created", of: n, window: 7d }', { n: 1 }],
    ['distinct', '{ distinct: "Project Created", of: n, window: 7d }', { n: 'x' }],
    ['active_days', '{ active_days: "Project Created", window: 7d }', {}]
  ])('window: 7d %s at 2026-03-10T12:00Z counts 2026-03-04T00:00Z but not 2026-03-03T23:59:59.999Z', (_, definition, properties) => {
    const inside = contact(contactModel(`  w: ${definition}`))
    apply(inside, [event({ at: INSIDE, properties })])
    expect(value(inside, 'w')).toBe(1)
    const outside = contact(contactModel(`  w: ${definition}`))
    apply(outside, [event({ at: OUTSIDE, properties })])
    expect(value(outside, 'w')).toBe(0)
  })

  it('a window: 1d counts only today', () => {
    const ada = contact(contactModel('  today: { count: "*", window: 1d }'))
    apply(ada, [event({ at: '2026-03-10T00:00:00.000Z' }), event({ at: '2026-03-09T23:59:59.999Z' })])
    expect(value(ada, 'today')).toBe(1)
  })

  it('windowed values drop out as now advances, unwindowed ones stay', () => {
    const ada = contact(contactModel('  w: { count: "*", window: 7d }\n  total: { count: "*" }\n  days: { active_days: "*", window: 7d }'))
    apply(ada, [event({ at: '2026-03-10T08:00:00.000Z' })])
    const lastDayInside = Date.parse('2026-03-16T23:59:59.999Z')
    const firstDayOutside = Date.parse('2026-03-17T00:00:00.000Z')
    expect([value(ada, 'w', lastDayInside), value(ada, 'days', lastDayInside)]).toEqual([1, 1])
    expect([value(ada, 'w', firstDayOutside), value(ada, 'days', firstDayOutside)]).toEqual([0, 0])
    expect(value(ada, 'total', firstDayOutside)).toBe(1)
  })

  it('a later batch keeps the in-window days and drops the old ones', () => {
    const ada = contact(contactModel('  w: { sum: "API Call", of: calls, window: 7d }'))
    apply(ada, [event({ event: 'API Call', at: '2026-03-04T10:00:00.000Z', properties: { calls: 5 } })])
    apply(ada, [event({ event: 'API Call', at: '2026-03-10T10:00:00.000Z', properties: { calls: 3 } })])
    expect(value(ada, 'w')).toBe(8)
    const later = Date.parse('2026-03-11T12:00:00.000Z')
    apply(ada, [event({ event: 'API Call', at: later - HOUR, properties: { calls: 1 } }, later)], later)
    expect(value(ada, 'w', later)).toBe(4)
  })
})

describe('matchers', () => {
  it('a where condition filters on the event properties', () => {
    const ada = contact(
      contactModel(
        [
          `  slack: { flag: { event: "Integration Connected", where: 'integration == "slack"' } }`,
          '  big_calls: { count: { event: "API Call", where: "calls >= 10" } }'
        ].join('\n')
      )
    )
    apply(ada, [
      event({ event: 'Integration Connected', properties: { integration: 'github' } }),
      event({ event: 'API Call', properties: { calls: 9 } }),
      event({ event: 'API Call', properties: { calls: '10' } }),
      event({ event: 'API Call', properties: { calls: 50 } }),
      event({ event: 'API Call', properties: {} })
    ])
    expect(value(ada, 'slack')).toBe(false)
    expect(value(ada, 'big_calls')).toBe(2)
    apply(ada, [event({ event: 'Integration Connected', properties: { integration: 'Slack' } })])
    expect(value(ada, 'slack')).toBe(true)
  })

  it('"*" matches every track event but never identify or group calls', () => {
    const ada = contact(contactModel('  any: { count: "*" }\n  last: { last_seen: "*" }'))
    const trackAt = NOW - 3 * HOUR
    apply(ada, [
      event({ event: 'Project Created', at: trackAt }),
      event({ event: 'Anything At All', at: trackAt - HOUR }),
      event({ kind: 'identify', traits: { plan: 'free' }, at: NOW - HOUR }),
      event({ kind: 'group', groupId: 'acme', traits: { name: 'Acme' }, at: NOW - HOUR })
    ])
    expect(value(ada, 'any')).toBe(2)
    expect(value(ada, 'last')).toEqual({ at: trackAt })
  })

  it('a named matcher never matches identify or group calls', () => {
    const ada = contact(contactModel('  seen: { flag: "Project Created" }'))
    apply(ada, [event({ kind: 'identify', traits: {} })])
    expect(value(ada, 'seen')).toBe(false)
  })
})

describe('batches, retries and rejections (SPEC §4)', () => {
  it('a retried batch does not double-count and reports its duplicates', () => {
    const ada = contact(contactModel('  projects: { count: "Project Created" }\n  calls: { sum: "API Call", of: calls }'))
    const batch = [event({}), event({}), event({ event: 'API Call', properties: { calls: 7 } })]
    const first = apply(ada, batch)
    expect(first.accepted).toHaveLength(3)
    expect(first.duplicates).toBe(0)
    const retry = apply(ada, batch)
    expect(retry.duplicates).toBe(3)
    expect(retry.rejected).toHaveLength(0)
    expect([value(ada, 'projects'), value(ada, 'calls')]).toEqual([2, 7])
  })

  it('the same messageId twice within one batch counts once', () => {
    const ada = contact(contactModel('  projects: { count: "Project Created" }'))
    const once = event({ messageId: 'same' })
    const result = apply(ada, [once, { ...once }])
    expect(result.duplicates).toBe(1)
    expect(value(ada, 'projects')).toBe(1)
  })

  it('a wrong-typed trait for a type: number trait is rejected naming traits.<name>, and the rest of the batch applies', () => {
    const ada = contact(contactModel('  seats: { trait: seats, type: number }\n  projects: { count: "Project Created" }'))
    const bad = event({ kind: 'identify', traits: { seats: 'many' }, at: NOW - HOUR })
    const good = event({ kind: 'identify', traits: { seats: 5 }, at: NOW - 2 * HOUR })
    const result = apply(ada, [good, bad, event({})])
    expect(result.rejected).toHaveLength(1)
    expect(result.rejected[0].event).toBe(bad)
    expect(result.rejected[0].error.field).toBe('traits.seats')
    expect(result.rejected[0].error.message).toContain('traits.seats')
    expect(result.accepted).toHaveLength(2)
    expect(result.accepted).not.toContain(bad)
    expect(value(ada, 'seats')).toBe(5)
    expect(value(ada, 'projects')).toBe(1)
  })

  it('a type: number trait accepts a numeric string as a number', () => {
    const ada = contact(contactModel('  seats: { trait: seats, type: number }'))
    apply(ada, [event({ kind: 'identify', traits: { seats: '12' } })])
    expect(value(ada, 'seats')).toBe(12)
  })

  it('an object-valued trait is rejected naming traits.<name>', () => {
    const ada = contact(contactModel('  plan: { trait: plan }'))
    const result = apply(ada, [event({ kind: 'identify', traits: { plan: { name: 'pro' } } })])
    expect(result.rejected.map((r) => r.error.field)).toEqual(['traits.plan'])
    expect(value(ada, 'plan')).toBeUndefined()
  })

  it('an event dated within 24h after now counts as dated now', () => {
    const now = Date.parse('2026-03-10T23:30:00.000Z')
    const ada = contact(contactModel('  last: { last_seen: "*" }\n  today: { count: "*", window: 1d }'))
    apply(ada, [event({ at: now + HOUR }, now)], now)
    expect(value(ada, 'last', now)).toEqual({ at: now })
    expect(value(ada, 'today', now)).toBe(1)
  })
})

describe('signal definitions', () => {
  it('state aggregated under another definition of a signal is not read', () => {
    const before = contact(contactModel('  projects: { count: "Project Created" }'))
    apply(before, [event({}), event({})])
    const after = { ...before, model: contactModel('  projects: { count: "Project Archived" }') }
    expect(value(after, 'projects')).toBe(0)
  })
})

describe('normalizeDomain', () => {
  it('lower-cases and strips scheme, www. and path', () => {
    expect(normalizeDomain('https://www.Acme.com/pricing?x=1')).toBe('acme.com')
    expect(normalizeDomain(' ACME.io ')).toBe('acme.io')
    expect(normalizeDomain('acme.io:8080')).toBe('acme.io')
  })

  it('gives undefined for something that is not a domain', () => {
    expect(normalizeDomain('acme')).toBeUndefined()
    expect(normalizeDomain('')).toBeUndefined()
  })
})
