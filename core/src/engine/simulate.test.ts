import { loadModel } from '../model/load'
import { ProductEvent } from './event'
import { simulate, SimulationResult, SubjectReport } from './simulate'

const T0 = Date.parse('2026-03-10T09:00:00.000Z')
const HOUR = 3_600_000
const iso = (at: number) => new Date(at).toISOString()

const model = loadModel(`
version: 1
name: simulate
signals:
  projects: { count: "Project Created" }
  last: { last_seen: "*" }
  seats: { trait: seats, type: number }
scores:
  - property: pql_score
    rules:
      - { label: Projects, per: projects, points: 20 }
    tiers: { Cold: 0, Hot: 60 }
handoff:
  - on: { enters: Hot }
    slack: { webhook: "https://hooks.slack.com/services/x" }
company:
  signals:
    users: { distinct_users: "*" }
    company_projects: { count: "Project Created" }
`)

let sequence = 0
function track(email: string | undefined, at: number, extra: Partial<ProductEvent> = {}): ProductEvent {
  return { kind: 'track', messageId: `m-${String(++sequence).padStart(4, '0')}`, timestamp: iso(at), email, event: 'Project Created', ...extra }
}

function group(email: string, groupId: string, at: number, extra: Partial<ProductEvent> = {}): ProductEvent {
  return { kind: 'group', messageId: `m-${String(++sequence).padStart(4, '0')}`, timestamp: iso(at), email, company: { groupId }, ...extra }
}

function subject(result: SimulationResult, kind: 'contact' | 'company', id: string): SubjectReport {
  const found = result.subjects.find((s) => s.subject === kind && s.id === id)
  if (!found) throw new Error(`no ${kind} ${id} in ${result.subjects.map((s) => `${s.subject}:${s.id}`).join(', ')}`)
  return found
}

describe('simulate (SPEC §7)', () => {
  it('reports contacts, then companies, each sorted by id', () => {
    const result = simulate(model, [
      track('cy@globex.com', T0, { company: { groupId: 'globex' } }),
      track('bob@acme.io', T0, { company: { groupId: 'acme' } }),
      track('ada@acme.io', T0 + HOUR, { company: { groupId: 'acme' } })
    ])
    expect(result.subjects.map((s) => [s.subject, s.id])).toEqual([
      ['contact', 'ada@acme.io'],
      ['contact', 'bob@acme.io'],
      ['contact', 'cy@globex.com'],
      ['company', 'acme'],
      ['company', 'globex']
    ])
  })

  it('evaluates at the latest event timestamp by default', () => {
    const result = simulate(model, [track('ada@acme.io', T0), track('ada@acme.io', T0 + 5 * HOUR), track('ada@acme.io', T0 + HOUR)])
    expect(result.now).toBe(T0 + 5 * HOUR)
    expect(subject(result, 'contact', 'ada@acme.io').properties.last).toBe(iso(T0 + 5 * HOUR))
  })

  it('userId-only events before an identify with email and userId end up on the email’s contact', () => {
    const result = simulate(model, [
      track(undefined, T0, { userId: 'u1' }),
      track(undefined, T0 + HOUR, { userId: 'u1' }),
      { kind: 'identify', messageId: 'identify-1', timestamp: iso(T0 + 2 * HOUR), email: 'Ada@Acme.io', userId: 'u1', traits: {} },
      track(undefined, T0 + 3 * HOUR, { userId: 'u1' })
    ])
    expect(result.subjects.filter((s) => s.subject === 'contact').map((s) => s.id)).toEqual(['ada@acme.io'])
    expect(subject(result, 'contact', 'ada@acme.io').properties.projects).toBe(3)
  })

  it('a userId never identified with an email is reported under the userId', () => {
    const result = simulate(model, [track(undefined, T0, { userId: 'u9' })])
    expect(result.subjects.map((s) => [s.subject, s.id])).toEqual([['contact', 'u9']])
  })

  it('events after now are not applied and are counted in afterNow', () => {
    const result = simulate(
      model,
      [track('ada@acme.io', T0), track('ada@acme.io', T0 + 3 * HOUR), track('ada@acme.io', T0 + HOUR), track('ada@acme.io', T0 + 30 * HOUR)],
      T0 + 2 * HOUR
    )
    expect(result.afterNow).toBe(2)
    expect(result.rejected).toEqual([])
    expect(subject(result, 'contact', 'ada@acme.io').properties).toMatchObject({ projects: 2, last: iso(T0 + HOUR) })
  })

  it('rejected events carry their input index and messageId, and the rest still apply', () => {
    const result = simulate(model, [
      track('ada@acme.io', T0),
      track(undefined, T0, { messageId: 'anonymous' }),
      track('ada@acme.io', T0),
      track('ada@acme.io', T0, { messageId: 'bad-time', timestamp: 'last tuesday' }),
      { kind: 'identify', messageId: 'bad-seats', timestamp: iso(T0), email: 'ada@acme.io', traits: { seats: 'lots' } }
    ])
    expect(result.rejected.map((r) => [r.index, r.messageId, r.error.field])).toEqual([
      [1, 'anonymous', 'email'],
      [3, 'bad-time', 'timestamp'],
      [4, 'bad-seats', 'traits.seats']
    ])
    expect(result.rejected[0].error.message).toContain('no identity')
    expect(subject(result, 'contact', 'ada@acme.io').properties.projects).toBe(2)
    expect(subject(result, 'contact', 'ada@acme.io').properties).not.toHaveProperty('seats')
  })

  it('records each hand-off with the time it fired during the replay', () => {
    const result = simulate(
      model,
      [track('ada@acme.io', T0), track('ada@acme.io', T0 + 2 * HOUR), track('ada@acme.io', T0 + HOUR), track('ada@acme.io', T0 + 3 * HOUR)],
      T0 + 10 * HOUR
    )
    const ada = subject(result, 'contact', 'ada@acme.io')
    expect(ada.handoffs).toEqual([{ on: 'enters Hot', at: iso(T0 + 2 * HOUR) }])
    expect(ada.properties).toMatchObject({ pql_score: 80, pql_score_tier: 'Hot' })
    expect(ada.reasons.pql_score).toEqual([{ label: 'Projects', points: 80 }])
  })

  it('a company gets the events of a contact without a group id of its own through the remembered company', () => {
    const result = simulate(model, [
      group('ada@acme.io', 'acme', T0),
      track('ada@acme.io', T0 + HOUR),
      track('ada@acme.io', T0 + 2 * HOUR),
      track('bob@acme.io', T0 + 2 * HOUR),
      group('ada@acme.io', 'globex', T0 + 3 * HOUR),
      track('ada@acme.io', T0 + 4 * HOUR)
    ])
    expect(subject(result, 'company', 'acme').properties).toMatchObject({ users: 1, company_projects: 2 })
    expect(subject(result, 'company', 'globex').properties).toMatchObject({ users: 1, company_projects: 1 })
    expect(result.subjects.filter((s) => s.subject === 'company').map((s) => s.id)).toEqual(['acme', 'globex'])
  })

  it('a company counts the distinct contacts active in it', () => {
    const result = simulate(model, [
      track('ada@acme.io', T0, { company: { groupId: 'acme' } }),
      track('bob@acme.io', T0, { company: { groupId: 'acme' } }),
      track('ada@acme.io', T0 + HOUR, { company: { groupId: 'acme' } })
    ])
    expect(subject(result, 'company', 'acme').properties).toMatchObject({ users: 2, company_projects: 3 })
  })

  it('a company report carries name and domain from its group traits', () => {
    const result = simulate(model, [
      group('ada@acme.io', 'acme', T0, { traits: { name: 'Acme Inc' }, company: { groupId: 'acme', domain: 'https://www.Acme.io/' } })
    ])
    expect(subject(result, 'company', 'acme').properties).toMatchObject({ name: 'Acme Inc', domain: 'acme.io' })
  })

  it('company_from_email: true uses the email domain, but never a free-mail one', () => {
    const fromEmail = loadModel(`
version: 1
name: from email
signals:
  projects: { count: "Project Created" }
company:
  company_from_email: true
  signals:
    company_projects: { count: "Project Created" }
`)
    const result = simulate(fromEmail, [
      track('ada@acme.io', T0),
      track('bob@acme.io', T0),
      track('joe@gmail.com', T0),
      track('zoe@GMAIL.com', T0),
      track('cy@globex.com', T0, { company: { groupId: 'globex-group' } })
    ])
    expect(result.subjects.filter((s) => s.subject === 'company').map((s) => s.id)).toEqual(['acme.io', 'globex-group'])
    expect(subject(result, 'company', 'acme.io').properties.company_projects).toBe(2)
  })

  it('without company_from_email an event without a group id has no company', () => {
    const result = simulate(model, [track('ada@acme.io', T0)])
    expect(result.subjects.filter((s) => s.subject === 'company')).toEqual([])
  })

  it('gives the same result for the same events in any input order', () => {
    const events = [
      group('ada@acme.io', 'acme', T0),
      track('ada@acme.io', T0 + HOUR),
      track('bob@acme.io', T0 + 2 * HOUR, { company: { groupId: 'acme' } }),
      track('ada@acme.io', T0 + 3 * HOUR),
      track('ada@acme.io', T0 + 3 * HOUR)
    ]
    expect(simulate(model, [...events].reverse())).toEqual(simulate(model, events))
  })
})

describe('identity stitching (SPEC §2) in simulate', () => {
  const identify = (email: string, userId: string, at: number): ProductEvent => ({
    kind: 'identify',
    messageId: `m-${String(++sequence).padStart(4, '0')}`,
    timestamp: iso(at),
    email,
    userId
  })

  it('a contact known by userId only is claimed by its email, and its company counts that person once', () => {
    const result = simulate(model, [
      track(undefined, T0, { userId: 'u1', company: { groupId: 'acme' } }),
      identify('ada@acme.io', 'u1', T0 + HOUR),
      track('ada@acme.io', T0 + 2 * HOUR, { company: { groupId: 'acme' } })
    ])
    expect(result.subjects.filter((s) => s.subject === 'contact').map((s) => s.id)).toEqual(['ada@acme.io'])
    expect(subject(result, 'contact', 'ada@acme.io').properties.projects).toBe(2)
    expect(subject(result, 'company', 'acme').properties.users).toBe(1)
  })

  it('two existing contacts are never merged: the userId stays on the anonymous one', () => {
    const result = simulate(model, [
      track('ada@acme.io', T0),
      track(undefined, T0 + HOUR, { userId: 'u1' }),
      identify('ada@acme.io', 'u1', T0 + 2 * HOUR),
      track(undefined, T0 + 3 * HOUR, { userId: 'u1' })
    ])
    expect(subject(result, 'contact', 'ada@acme.io').properties.projects).toBe(1)
    expect(subject(result, 'contact', 'u1').properties.projects).toBe(2)
  })

  it('a timestamp without an offset is UTC on every machine', () => {
    const result = simulate(model, [track('ada@acme.io', T0, { timestamp: '2026-03-10T09:00:00' })])
    expect(subject(result, 'contact', 'ada@acme.io').properties.last).toBe('2026-03-10T09:00:00.000Z')
  })
})
