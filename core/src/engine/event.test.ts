import { runInNewContext } from 'node:vm'
import { ValidationError } from './errors'
import { MAX_EVENT_BYTES, ProductEvent, readPath, revalidatedEvent, validateEvent } from './event'

const NOW = Date.parse('2026-03-10T12:00:00.000Z')
const HOUR = 3_600_000
const DAY = 24 * HOUR

const track = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  kind: 'track',
  messageId: 'm-1',
  timestamp: '2026-03-10T09:00:00.000Z',
  email: 'ada@acme.io',
  event: 'Project Created',
  ...overrides
})

/** Runs validateEvent and returns the ValidationError it throws (failing the test if it does not). */
function rejection(input: unknown, now = NOW): ValidationError {
  try {
    validateEvent(input, now)
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError)
    return error as ValidationError
  }
  throw new Error('expected the event to be rejected')
}

/** An object nested `levels` deep: nested(1) is {}, nested(2) is { a: {} }. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {}
  for (let i = 1; i < levels; i++) value = { a: value }
  return value
}

describe('validateEvent: identity (SPEC §2)', () => {
  it('trims and lower-cases the email', () => {
    expect(validateEvent(track({ email: '  Ada.Lovelace@ACME.io \n' }), NOW).email).toBe('ada.lovelace@acme.io')
  })

  it('rejects a malformed email, naming the email field', () => {
    for (const email of ['not-an-email', 'ada@', '@acme.io', 'ada@acme', 'ada lovelace@acme.io']) {
      const error = rejection(track({ email }))
      expect(error.field).toBe('email')
      expect(error.message).toMatch(/^email: .*is not an email address/)
    }
  })

  it('rejects an event with neither email nor userId as having no identity', () => {
    const error = rejection(track({ email: undefined }))
    expect(error.message).toContain('no identity')
  })

  it('treats a blank email and a blank userId as no identity', () => {
    expect(rejection(track({ email: '   ', userId: '  ' })).message).toContain('no identity')
  })

  it('accepts an event identified by userId alone, trimmed', () => {
    const event = validateEvent(track({ email: undefined, userId: ' u-42 ' }), NOW)
    expect(event.email).toBeUndefined()
    expect(event.userId).toBe('u-42')
  })

  it('rejects an empty messageId', () => {
    expect(rejection(track({ messageId: ' ' })).field).toBe('messageId')
  })
})

describe('validateEvent: time (SPEC §3.1)', () => {
  it('rejects a timestamp that is not an ISO 8601 date-time', () => {
    for (const timestamp of ['yesterday', '2026-13-45T00:00:00Z', '10/03/2026 09:00', '']) {
      const error = rejection(track({ timestamp }))
      expect(error.field).toBe('timestamp')
      expect(error.problem).toContain('is not an ISO 8601 date-time')
    }
  })

  it('keeps the parsed time of an event dated before now', () => {
    expect(validateEvent(track({ timestamp: '2026-03-10T09:00:00.000Z' }), NOW).at).toBe(NOW - 3 * HOUR)
  })

  it('rejects an event dated more than 24h after now', () => {
    const error = rejection(track({ timestamp: new Date(NOW + DAY + 1).toISOString() }))
    expect(error.field).toBe('timestamp')
    expect(error.problem).toContain('more than 24h after now')
  })

  it('accepts an event dated within 24h after now and dates it now', () => {
    expect(validateEvent(track({ timestamp: new Date(NOW + HOUR).toISOString() }), NOW).at).toBe(NOW)
    expect(validateEvent(track({ timestamp: new Date(NOW + DAY).toISOString() }), NOW).at).toBe(NOW)
  })

  it('keeps the timestamp text as sent while clamping `at`', () => {
    const timestamp = new Date(NOW + HOUR).toISOString()
    expect(validateEvent(track({ timestamp }), NOW).timestamp).toBe(timestamp)
  })
})

describe('validateEvent: kinds', () => {
  it('rejects a track event without an event name', () => {
    expect(rejection(track({ event: undefined })).field).toBe('event')
    expect(rejection(track({ event: '  ' })).problem).toContain('needs an event name')
  })

  it('accepts an identify call without an event name', () => {
    expect(validateEvent(track({ kind: 'identify', event: undefined, traits: { plan: 'free' } }), NOW).kind).toBe('identify')
  })

  it('rejects a group call without a group id', () => {
    const group = track({ kind: 'group', event: undefined, traits: { name: 'Acme' } })
    expect(rejection(group).field).toBe('groupId')
    expect(rejection({ ...group, company: { domain: 'acme.io' } }).field).toBe('groupId')
    expect(rejection({ ...group, company: { groupId: '   ' } }).field).toBe('groupId')
  })

  it('accepts a group call with a group id, trimmed', () => {
    const event = validateEvent(track({ kind: 'group', event: undefined, company: { groupId: ' acme ' } }), NOW)
    expect(event.company?.groupId).toBe('acme')
  })

  it('rejects an unknown kind, naming the field', () => {
    expect(rejection(track({ kind: 'page' })).field).toBe('kind')
  })

  it('rejects something that is not an event object', () => {
    expect(rejection(null)).toBeInstanceOf(ValidationError)
    expect(rejection('track')).toBeInstanceOf(ValidationError)
  })
})

describe('validateEvent: size and shape limits', () => {
  it('rejects an event larger than 32 KiB', () => {
    const error = rejection(track({ properties: { blob: 'x'.repeat(MAX_EVENT_BYTES) } }))
    expect(error.field).toBe('event')
    expect(error.problem).toContain(`at most ${MAX_EVENT_BYTES}`)
  })

  it('accepts an event just under 32 KiB', () => {
    expect(() => validateEvent(track({ properties: { blob: 'x'.repeat(MAX_EVENT_BYTES - 300) } }), NOW)).not.toThrow()
  })

  it("measures an event made large by many small values, a list's holes or control characters", () => {
    expect(rejection(track({ properties: { list: new Array(20_000).fill(1) } })).field).toBe('event')
    expect(rejection(track({ properties: { list: new Array(10_000) } })).field).toBe('event')
    expect(rejection(track({ properties: Object.fromEntries(Array.from({ length: 5_000 }, (_, index) => [`k${index}`, true])) })).field).toBe('event')
    // Each written as the six characters \u0001.
    expect(rejection(track({ properties: { text: '\u0001'.repeat(6_000) } })).field).toBe('event')
  })

  it('counts multi-byte characters by their UTF-8 size', () => {
    // 11,000 three-byte characters: 33,000 bytes though only 11,000 UTF-16 units.
    expect(rejection(track({ properties: { text: '€'.repeat(11_000) } })).field).toBe('event')
  })

  it('rejects a key naming object internals in objects from another realm too (as a sandbox passes them)', () => {
    const traits = runInNewContext('({ email: "ctor@acme.io", constructor: { prototype: { polluted: true } } })') as Record<string, unknown>
    const error = rejection(track({ kind: 'identify', traits }))
    expect(error.problem).toContain('constructor')
  })

  it('rejects properties or traits nested deeper than 8 levels', () => {
    expect(rejection(track({ properties: nested(9) })).field).toBe('properties')
    expect(rejection(track({ kind: 'identify', traits: nested(9) })).field).toBe('traits')
  })

  it('accepts properties nested 8 levels deep', () => {
    expect(() => validateEvent(track({ properties: nested(8) }), NOW)).not.toThrow()
  })
})

describe('validateEvent: the fast path for well-formed events', () => {
  it('gives the event zod would: fields the schema does not know are left out, at any level it reads', () => {
    const plain = validateEvent(track({ properties: { n: 1 }, company: { groupId: 'g-1' } }), NOW)
    expect(validateEvent(track({ properties: { n: 1 }, company: { groupId: 'g-1', extra: 1 }, extra: true }), NOW)).toEqual(plain)
    expect(plain).toEqual({ ...track({ properties: { n: 1 }, company: { groupId: 'g-1' } }), at: Date.parse('2026-03-10T09:00:00.000Z') })
  })

  it('leaves a field of the wrong type to zod, which names it', () => {
    expect(rejection(track({ properties: [1] })).field).toBe('properties')
    expect(rejection(track({ company: { groupId: 7 } })).field).toBe('company.groupId')
  })
})

describe('revalidatedEvent', () => {
  it('gives the event validateEvent gave, without checking it again', () => {
    const events: ProductEvent[] = [
      { kind: 'track', messageId: 'm-1', timestamp: '2026-03-10T09:00:00.000Z', email: '  Ada@ACME.io ', userId: ' u-1 ', event: 'Task Created', properties: { n: 1 }, traits: undefined, company: { groupId: ' g-1 ', domain: undefined } },
      { kind: 'identify', messageId: 'm-2', timestamp: '2026-03-10T10:00:00Z', email: ' ', userId: 'u-2', traits: { plan: 'paying' } },
      { kind: 'group', messageId: 'm-3', timestamp: '2026-03-10T11:00:00.000Z', userId: 'u-3', traits: { name: 'Acme' }, company: { groupId: 'g-3 ', domain: 'acme.io' } }
    ]
    for (const event of events) {
      const validated = validateEvent(event, Number.POSITIVE_INFINITY)
      expect(revalidatedEvent(event, validated.at)).toEqual(validated)
    }
  })
})

describe('readPath', () => {
  it('reads nested own properties by a dotted path', () => {
    expect(readPath({ plan: { tier: 'pro' } }, 'plan.tier')).toBe('pro')
    expect(readPath({ calls: 0 }, 'calls')).toBe(0)
  })

  it('gives undefined for a missing path or a path through a non-object', () => {
    expect(readPath({ plan: 'pro' }, 'plan.tier')).toBeUndefined()
    expect(readPath({}, 'a.b')).toBeUndefined()
    expect(readPath(undefined, 'a')).toBeUndefined()
  })

  it('never reads the prototype chain', () => {
    expect(readPath({}, '__proto__')).toBeUndefined()
    expect(readPath({}, 'constructor')).toBeUndefined()
    expect(readPath({}, 'constructor.name')).toBeUndefined()
    expect(readPath({ a: {} }, 'a.__proto__.toString')).toBeUndefined()
    expect(readPath({}, 'toString')).toBeUndefined()
    expect(readPath({}, 'hasOwnProperty')).toBeUndefined()
  })

  it('reads an own property called __proto__ (as JSON.parse creates it)', () => {
    const parsed = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>
    expect(readPath(parsed, '__proto__.x')).toBe(1)
  })
})
