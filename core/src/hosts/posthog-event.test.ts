import { loadModel } from '../model/load'
import { ValidationError } from '../engine/errors'
import { modelReads, posthogEventToProductEvent } from './posthog-event'

const base = { uuid: 'u1', distinct_id: 'user-1', timestamp: '2026-11-19T10:00:00.000Z' }

describe('posthogEventToProductEvent', () => {
  it('maps $identify to an identify whose traits are $set over $set_once, wherever PostHog put them', () => {
    const event = posthogEventToProductEvent(
      { ...base, event: '$identify', properties: { $set: { plan: 'paid' }, $set_once: { plan: 'free', signup: 'ads' } }, $set: { role: 'admin' } },
      'company'
    )
    expect(event).toEqual({
      kind: 'identify',
      messageId: 'u1',
      timestamp: '2026-11-19T10:00:00.000Z',
      email: undefined,
      userId: 'user-1',
      traits: { plan: 'paid', signup: 'ads', role: 'admin' }
    })
  })

  it('takes the email from the person, then $set, then the properties', () => {
    const email = (input: object) => posthogEventToProductEvent({ ...base, event: 'X', ...input }, 'company')?.email
    expect(email({ person: { properties: { email: 'p@x.io' } }, properties: { $set: { email: 's@x.io' }, email: 'e@x.io' } })).toBe('p@x.io')
    expect(email({ properties: { $set: { email: 's@x.io' }, email: 'e@x.io' } })).toBe('s@x.io')
    expect(email({ properties: { email: 'e@x.io' } })).toBe('e@x.io')
  })

  it('maps $groupidentify of the group type to a group call, and skips other group types', () => {
    const properties = { $group_type: 'company', $group_key: 'acme', $group_set: { name: 'Acme', website: 'https://acme.io' } }
    expect(posthogEventToProductEvent({ ...base, event: '$groupidentify', properties }, 'company')).toMatchObject({
      kind: 'group',
      traits: { name: 'Acme', website: 'https://acme.io' },
      company: { groupId: 'acme', domain: 'https://acme.io' }
    })
    expect(posthogEventToProductEvent({ ...base, event: '$groupidentify', properties }, 'organization')).toBeUndefined()
  })

  it('maps other events to tracks with their company from $groups or the webhook’s groups, without structural properties', () => {
    const track = posthogEventToProductEvent(
      { ...base, event: 'Project Created', properties: { template: 'kanban', $current_url: '/p', $set: { a: 1 }, $groups: { company: 'acme' }, $elements_chain: 'div' } },
      'company'
    )
    expect(track).toMatchObject({ kind: 'track', event: 'Project Created', properties: { template: 'kanban', $current_url: '/p' }, company: { groupId: 'acme' } })
    expect(Object.keys(track!.properties!)).toEqual(['template', '$current_url'])
    expect(posthogEventToProductEvent({ ...base, event: 'X', groups: { company: { id: 'globex', properties: {} } } }, 'company')?.company).toEqual({ groupId: 'globex' })
  })

  it('keeps anonymous and pseudo distinct ids out of the userId', () => {
    const userId = (input: object) => posthogEventToProductEvent({ ...base, event: 'X', ...input }, 'company')?.userId
    expect(userId({})).toBe('user-1')
    expect(userId({ properties: { $is_identified: false } })).toBeUndefined()
    expect(userId({ distinct_id: 'dev-1', properties: { $device_id: 'dev-1' } })).toBeUndefined()
    expect(userId({ distinct_id: '$company_acme' })).toBeUndefined()
  })

  it('reads PostHog’s timestamps: a Date, ISO with a zone, or zone-less UTC', () => {
    const timestamp = (value: unknown) => posthogEventToProductEvent({ ...base, event: 'X', timestamp: value }, 'company')?.timestamp
    expect(timestamp(new Date('2026-11-19T10:00:00Z'))).toBe('2026-11-19T10:00:00.000Z')
    expect(timestamp('2026-11-19T10:00:00+01:00')).toBe('2026-11-19T10:00:00+01:00')
    expect(timestamp('2026-11-19 10:00:00.123')).toBe('2026-11-19T10:00:00.123Z')
    expect(timestamp(undefined)).toBe('')
  })

  it('names what is wrong with an input that is no event', () => {
    expect(() => posthogEventToProductEvent('text', 'company')).toThrow(new ValidationError('event', 'is not a JSON object'))
    expect(() => posthogEventToProductEvent({ ...base, event: ' ' }, 'company')).toThrow(new ValidationError('event', 'has no event name'))
  })
})

describe('modelReads', () => {
  const model = loadModel(`
version: 1
name: reads
signals:
  projects: { count: "Project Created" }
  pricing: { count: "$pageview" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, every: 1, points: 10 }]
company:
  signals:
    users: { distinct_users: "*" }
`)
  const track = (event: string) => ({ kind: 'track' as const, messageId: 'm', timestamp: '', event })
  it('reads named events, custom events through "*", and PostHog’s own events only when named', () => {
    expect(modelReads(model, track('Project Created'))).toBe(true)
    expect(modelReads(model, track('Logged In'))).toBe(true)
    expect(modelReads(model, track('$pageview'))).toBe(true)
    expect(modelReads(model, track('$autocapture'))).toBe(false)
    expect(modelReads(model, { kind: 'identify', messageId: 'm', timestamp: '' })).toBe(true)
  })
})
