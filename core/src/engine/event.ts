import { z } from 'zod'
import { ValidationError } from './errors'
import { parseTimestamp } from '../time'

/** The canonical event of SPEC §2: every host converts its input into this before the core sees it. */
export const ProductEvent = z.object({
  kind: z.enum(['track', 'identify', 'group']),
  messageId: z.string(),
  timestamp: z.string(),
  email: z.string().optional(),
  userId: z.string().optional(),
  event: z.string().optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  traits: z.record(z.string(), z.unknown()).optional(),
  company: z.object({ domain: z.string().optional(), groupId: z.string().optional() }).optional(),
  /**
   * The mapped signal a host delivered this event for (a destination that runs each mapping's
   * subscription apart delivers an event once per subscription): it counts toward that signal
   * only, deduplicated per signal.
   */
  mapping: z.string().optional()
})
export type ProductEvent = z.infer<typeof ProductEvent>

/** An event that passed validation: identity normalised, time parsed (and clamped to `now`). */
export type ValidEvent = ProductEvent & { at: number }

const DAY_MS = 86_400_000
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@.]+$/
export const MAX_EVENT_BYTES = 32 * 1024
const MAX_DEPTH = 8
const MAX_ID_LENGTH = 256

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/**
 * Checks one event against SPEC §2 and §3.1 at time `now`. Throws a ValidationError naming the
 * field and the problem; never throws anything else.
 */
export function validateEvent(input: unknown, now: number): ValidEvent {
  const bound = { bytes: 0 }
  const unsafe = unsafeKey(input, 0, bound)
  if (unsafe) throw new ValidationError(unsafe.path.join('.'), `uses the key "${unsafe.key}", which pqlkit does not accept (it names object internals)`)
  const event = wellFormed(input) ? input : parsedEvent(input)
  if (event.messageId.trim() === '' || event.messageId.length > MAX_ID_LENGTH) {
    throw new ValidationError('messageId', `must be 1 to ${MAX_ID_LENGTH} characters`)
  }
  const size = bound.bytes <= MAX_EVENT_BYTES ? undefined : oversize(input)
  if (size !== undefined) {
    throw new ValidationError('event', `is ${size} bytes; at most ${MAX_EVENT_BYTES} are accepted`)
  }
  if (depthOf(event.properties) > MAX_DEPTH) throw new ValidationError('properties', `nests deeper than ${MAX_DEPTH} levels`)
  if (depthOf(event.traits) > MAX_DEPTH) throw new ValidationError('traits', `nests deeper than ${MAX_DEPTH} levels`)
  const at = parseTimestamp(event.timestamp)
  // A time parsed starts with a date; a date alone is not a date-time.
  if (Number.isNaN(at) || event.timestamp[10] !== 'T') {
    throw new ValidationError('timestamp', `${JSON.stringify(event.timestamp.slice(0, 40))} is not an ISO 8601 date-time`)
  }
  if (at > now + DAY_MS) {
    throw new ValidationError('timestamp', `${event.timestamp} is more than 24h after now (${new Date(now).toISOString()})`)
  }
  const { email, userId, company } = identityOf(event)
  if (email !== undefined && (!EMAIL.test(email) || email.length > 254)) {
    throw new ValidationError('email', `${JSON.stringify(event.email!.slice(0, 80))} is not an email address`)
  }
  if (userId !== undefined && userId.length > MAX_ID_LENGTH) {
    throw new ValidationError('userId', `must be at most ${MAX_ID_LENGTH} characters`)
  }
  if (email === undefined && userId === undefined) {
    throw new ValidationError('email', 'the event has no identity: it needs an email or a userId')
  }
  if (event.kind === 'track' && !event.event?.trim()) {
    throw new ValidationError('event', 'a track event needs an event name')
  }
  if (event.kind === 'group' && company?.groupId === undefined) {
    throw new ValidationError('groupId', 'a group call needs a group id')
  }
  return validEvent(event, email, userId, company, Math.min(at, now))
}

/**
 * The valid event, every field named (absent ones `undefined`): all valid events share one
 * shape, so the engine's reads of their fields stay fast.
 */
function validEvent(event: ProductEvent, email: string | undefined, userId: string | undefined, company: ProductEvent['company'], at: number): ValidEvent {
  return {
    kind: event.kind,
    messageId: event.messageId,
    timestamp: event.timestamp,
    email,
    userId,
    event: event.event,
    properties: event.properties,
    traits: event.traits,
    company,
    mapping: event.mapping,
    at
  }
}

/** An event's identity as validation normalises it: email lower-cased and trimmed, userId and groupId trimmed, blanks left out. */
function identityOf(event: ProductEvent): Pick<ProductEvent, 'email' | 'userId' | 'company'> {
  const groupId = event.company?.groupId?.trim() || undefined
  return {
    email: event.email !== undefined && event.email.trim() !== '' ? normalizeEmail(event.email) : undefined,
    userId: event.userId?.trim() ? event.userId.trim() : undefined,
    company: event.company && { domain: event.company.domain, groupId }
  }
}

/**
 * What `validateEvent(event, now)` returns for an event it accepted before, with its time
 * `at` (already parsed, at most `now`), without checking it again: for a replay that read
 * the same event in a first pass (`cli/events-file.ts`). It is the validated event when
 * `event` has only the fields of `ProductEvent` (zod leaves out any other), as every
 * `segmentMessageToProductEvent` result does.
 */
export function revalidatedEvent(event: ProductEvent, at: number): ValidEvent {
  const { email, userId, company } = identityOf(event)
  return validEvent(event, email, userId, company, at)
}

/** The event as zod parses it, or a ValidationError naming its first problem. */
function parsedEvent(input: unknown): ProductEvent {
  let parsed: ReturnType<typeof ProductEvent.safeParse>
  try {
    parsed = ProductEvent.safeParse(input)
  } catch {
    throw new ValidationError('event', 'could not be read as an event')
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ValidationError(issue.path.join('.') || 'event', issue.message)
  }
  return parsed.data
}

const EVENT_FIELDS = new Set(Object.keys(ProductEvent.shape))
const KINDS = new Set(ProductEvent.shape.kind.options)

function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

const optionalText = (value: unknown) => value === undefined || typeof value === 'string'
const optionalRecord = (value: unknown) => value === undefined || (isPlain(value) && Object.getOwnPropertySymbols(value).length === 0)

/**
 * The fast path of validation: whether `input` is an event `ProductEvent` accepts as it is
 * (plain objects, the schema's fields only, each of its type), so parsing it would give the
 * same event. Anything else goes through zod, whose messages report what is wrong.
 */
function wellFormed(input: unknown): input is ProductEvent {
  if (!isPlain(input)) return false
  for (const key in input) if (!EVENT_FIELDS.has(key)) return false
  const { company } = input
  if (company !== undefined) {
    if (!isPlain(company)) return false
    for (const key in company) if (key !== 'domain' && key !== 'groupId') return false
    if (!optionalText(company.domain) || !optionalText(company.groupId)) return false
  }
  return (
    KINDS.has(input.kind as ProductEvent['kind']) &&
    typeof input.messageId === 'string' &&
    typeof input.timestamp === 'string' &&
    optionalText(input.email) &&
    optionalText(input.userId) &&
    optionalText(input.event) &&
    optionalText(input.mapping) &&
    optionalRecord(input.properties) &&
    optionalRecord(input.traits)
  )
}

/**
 * The UTF-8 size of the value's JSON when it is over MAX_EVENT_BYTES, else undefined; without
 * Buffer or TextEncoder (a sandbox host may have neither).
 */
function oversize(value: unknown): number | undefined {
  let text: string
  try {
    text = JSON.stringify(value) ?? ''
  } catch {
    return Number.POSITIVE_INFINITY
  }
  // A UTF-16 unit is at most 3 bytes of UTF-8: most events need no count.
  if (text.length * 3 <= MAX_EVENT_BYTES) return undefined
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes > MAX_EVENT_BYTES ? bytes : undefined
}

/** Keys that name object internals (compared one by one: faster than a Set for every key of every event). */
const isUnsafeKey = (key: string) => key === '__proto__' || key === 'constructor' || key === 'prototype'

/**
 * The most UTF-8 bytes a scalar's JSON can take: an escaped UTF-16 unit (`\u001f`) is 6, a
 * number at most 25 characters; a value JSON would call `toJSON` on, or cannot write, has no bound.
 */
function scalarBound(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 6 * value.length + 2
    case 'number':
      return 25
    case 'boolean':
      return 5
    case 'undefined':
    case 'function':
    case 'symbol':
      return 0
    default:
      return value === null ? 4 : Number.POSITIVE_INFINITY
  }
}

/**
 * The first own key, at any depth pqlkit reads, that names object internals (JSON.parse makes
 * `__proto__` an own key), with its path. The same walk adds to `bound.bytes` an upper bound
 * of the UTF-8 size of the value's JSON (unbounded past that depth), so that an event well
 * under MAX_EVENT_BYTES is not written out as JSON to be measured.
 */
function unsafeKey(value: unknown, depth: number, bound: { bytes: number }): { path: string[]; key: string } | undefined {
  if (typeof value !== 'object' || value === null) {
    bound.bytes += scalarBound(value)
    return undefined
  }
  if (depth > MAX_DEPTH + 1) {
    bound.bytes = Number.POSITIVE_INFINITY
    return undefined
  }
  // An object of another kind (a Date, or one from another realm, as a sandbox passes them)
  // may be written other than field by field: measured exactly. A list's holes are written
  // as `null`, each element with a comma.
  if (Array.isArray(value)) bound.bytes += 2 + 5 * value.length
  else bound.bytes = isPlain(value) ? bound.bytes + 2 : Number.POSITIVE_INFINITY
  for (const key of Object.keys(value)) {
    if (isUnsafeKey(key)) return { path: [key], key }
    if (key === 'toJSON') bound.bytes = Number.POSITIVE_INFINITY
    bound.bytes += 6 * key.length + 4
    const found = unsafeKey((value as Record<string, unknown>)[key], depth + 1, bound)
    if (found) {
      found.path.unshift(key)
      return found
    }
  }
  return undefined
}

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_DEPTH || typeof value !== 'object' || value === null) return depth
  let deepest = depth + 1
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child, depth + 1))
  return deepest
}

/** Reads `a.b.c` from an object's own properties only (never its prototype chain). */
export function readPath(source: Record<string, unknown> | undefined, path: string): unknown {
  // A plain name (most paths) without splitting: this runs for every signal an event touches.
  if (path.indexOf('.') === -1) {
    return typeof source === 'object' && source !== null && Object.prototype.hasOwnProperty.call(source, path) ? source[path] : undefined
  }
  let value: unknown = source
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, part)) {
      return undefined
    }
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** Replay order (SPEC §7): timestamp, then messageId. */
export function compareReplayOrder(a: Pick<ValidEvent, 'at' | 'messageId'>, b: Pick<ValidEvent, 'at' | 'messageId'>): number {
  return a.at - b.at || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0)
}
