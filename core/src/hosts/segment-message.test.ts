import { ValidationError } from '../engine/errors'
import { validateEvent } from '../engine/event'
import { segmentMessageToProductEvent } from './segment-message'

const NOW = Date.parse('2026-03-10T12:00:00.000Z')

describe('segmentMessageToProductEvent', () => {
  const message = (overrides: Record<string, unknown>): Record<string, unknown> => ({
    type: 'track',
    messageId: 'm-1',
    timestamp: '2026-03-10T09:00:00.000Z',
    userId: 'u-1',
    event: 'Project Created',
    ...overrides
  })

  it('takes the email from traits.email first', () => {
    const event = segmentMessageToProductEvent(
      message({
        type: 'identify',
        traits: { email: 'traits@acme.io' },
        context: { traits: { email: 'context@acme.io' } },
        properties: { email: 'properties@acme.io' }
      })
    )
    expect(event.email).toBe('traits@acme.io')
  })

  it('falls back to context.traits.email, then properties.email', () => {
    expect(
      segmentMessageToProductEvent(
        message({ context: { traits: { email: 'context@acme.io' } }, properties: { email: 'properties@acme.io' } })
      ).email
    ).toBe('context@acme.io')
    expect(segmentMessageToProductEvent(message({ properties: { email: 'properties@acme.io' } })).email).toBe(
      'properties@acme.io'
    )
  })

  it('skips blank and non-string emails on the way', () => {
    const event = segmentMessageToProductEvent(
      message({
        type: 'identify',
        traits: { email: '  ' },
        context: { traits: { email: 42 } },
        properties: { email: 'properties@acme.io' }
      })
    )
    expect(event.email).toBe('properties@acme.io')
  })

  it('has no email when none of the three places has one', () => {
    expect(segmentMessageToProductEvent(message({})).email).toBeUndefined()
  })

  it('takes the group id from groupId, then context.groupId', () => {
    expect(segmentMessageToProductEvent(message({ groupId: 'acme', context: { groupId: 'globex' } })).company?.groupId).toBe('acme')
    expect(segmentMessageToProductEvent(message({ context: { groupId: 'globex' } })).company?.groupId).toBe('globex')
    expect(segmentMessageToProductEvent(message({ groupId: 1234 })).company?.groupId).toBe('1234')
  })

  it('has no company when there is no group id on a track call', () => {
    expect(segmentMessageToProductEvent(message({})).company).toBeUndefined()
  })

  it('takes a group call domain from traits.domain, then traits.website', () => {
    expect(
      segmentMessageToProductEvent(
        message({ type: 'group', groupId: 'acme', traits: { domain: 'acme.io', website: 'https://www.acme.com' } })
      ).company
    ).toEqual({ groupId: 'acme', domain: 'acme.io' })
    expect(
      segmentMessageToProductEvent(message({ type: 'group', groupId: 'acme', traits: { website: 'https://www.acme.com' } }))
        .company
    ).toEqual({ groupId: 'acme', domain: 'https://www.acme.com' })
    expect(
      segmentMessageToProductEvent(message({ type: 'group', groupId: 'acme', traits: { domain: ' ', website: 'acme.io' } })).company
    ).toEqual({ groupId: 'acme', domain: 'acme.io' })
  })

  it('reads domain traits only on group calls', () => {
    const event = segmentMessageToProductEvent(message({ type: 'identify', traits: { domain: 'acme.io' } }))
    expect(event.company).toBeUndefined()
  })

  it('keeps traits for identify and group calls but not for track calls', () => {
    expect(segmentMessageToProductEvent(message({ type: 'identify', traits: { plan: 'pro' } })).traits).toEqual({ plan: 'pro' })
    expect(segmentMessageToProductEvent(message({ traits: { plan: 'pro' } })).traits).toBeUndefined()
  })

  it('maps the message fields onto the canonical event', () => {
    expect(
      segmentMessageToProductEvent(message({ userId: 7, properties: { calls: 3 }, traits: { email: 'ada@acme.io' } }))
    ).toEqual({
      kind: 'track',
      messageId: 'm-1',
      timestamp: '2026-03-10T09:00:00.000Z',
      email: 'ada@acme.io',
      userId: '7',
      event: 'Project Created',
      properties: { calls: 3 },
      traits: undefined,
      company: undefined
    })
  })

  it('rejects page and screen calls with a message naming the accepted types', () => {
    for (const type of ['page', 'screen']) {
      try {
        segmentMessageToProductEvent(message({ type }))
        throw new Error('expected a rejection')
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError)
        expect((error as ValidationError).field).toBe('type')
        expect((error as ValidationError).message).toBe(`type: "${type}" is not one of track, identify, group`)
      }
    }
  })

  it('rejects a message that is not a JSON object', () => {
    expect(() => segmentMessageToProductEvent([])).toThrow(ValidationError)
    expect(() => segmentMessageToProductEvent('track')).toThrow('is not a JSON object')
  })

  it('gives an event that validateEvent accepts', () => {
    const event = validateEvent(
      segmentMessageToProductEvent(message({ type: 'group', groupId: 'acme', traits: { domain: 'acme.io' }, userId: 'u-1' })),
      NOW
    )
    expect(event).toMatchObject({ kind: 'group', userId: 'u-1', company: { groupId: 'acme', domain: 'acme.io' } })
  })
})
