import { z } from 'zod'

/**
 * A subject's aggregation state (SPEC §4), kept as compact JSON in the HubSpot property
 * `pqlkit_state`. Keys are short because every character counts against HubSpot's
 * 65,536-character limit. Times are epoch milliseconds, days are UTC days since the epoch,
 * distinct values and message ids are 8-character hashes.
 */

const Time = z.number().finite()
const Day = z.number().int()

/** A trait's latest value: value, its event's time and message id (ties: larger message id). */
const Latest = z.tuple([z.union([z.string(), z.number(), z.boolean()]), Time, z.string()])
export type Latest = z.infer<typeof Latest>

export const SignalState = z.object({
  /** Fingerprint of the signal's definition: state from another definition is dropped. */
  f: z.string(),
  /** Total (count, sum) or presence (flag). */
  n: z.number().optional(),
  /** Per-day totals, for windowed count and sum. */
  d: z.record(z.string(), z.number()).optional(),
  /** Distinct hashes (unwindowed distinct, distinct_users), at most 1,000. */
  h: z.array(z.string()).optional(),
  /** Distinct hash → last UTC day seen (windowed distinct), the 1,000 most recent. */
  hd: z.record(z.string(), Day).optional(),
  /** Active UTC days. */
  a: z.array(Day).optional(),
  /** First/last seen time. */
  t: Time.optional(),
  /** Latest trait value. */
  l: Latest.optional()
})
export type SignalState = z.infer<typeof SignalState>

export const SubjectState = z.object({
  v: z.literal(1),
  /** Signal states by signal name. */
  s: z.record(z.string(), SignalState),
  /** Once-marks: score property → rule key → time the condition first held. */
  o: z.record(z.string(), z.record(z.string(), Time)),
  /** Last evaluated score: property → [value, time it last changed]. */
  k: z.record(z.string(), z.tuple([z.number(), Time])),
  /** Score changes for `rises_by` hand-offs: property → [time, value][]. */
  r: z.record(z.string(), z.array(z.tuple([Time, z.number()]))),
  /** Hand-off marks: hand-off key → time it last fired. */
  h: z.record(z.string(), Time),
  /** Hashes of the last processed message ids, oldest first. */
  m: z.array(z.string()),
  /** Contacts: the company last seen with, and when. */
  c: z.tuple([z.string(), Time]).optional(),
  /** Contacts: the key a company counts them by in `distinct_users`; their first key, kept when a userId-only contact gets its email. */
  u: z.string().optional(),
  /** Contacts: the company HubSpot is known to have them associated with. */
  ca: z.string().optional(),
  /** Companies: latest name and domain from group traits. */
  n: Latest.optional(),
  dm: Latest.optional()
})
export type SubjectState = z.infer<typeof SubjectState>

export const STATE_VERSION = 1
export const MAX_MESSAGE_IDS = 500
/** Well under HubSpot's 65,536-character limit for a property value. */
export const MAX_STATE_CHARS = 60_000

export function emptyState(): SubjectState {
  return { v: STATE_VERSION, s: {}, o: {}, k: {}, r: {}, h: {}, m: [] }
}

export type DecodedState = { state: SubjectState; problem?: string }

/**
 * Reads a stored state. An absent state is a new subject; an unreadable, corrupt or
 * other-version state is reported as `problem` and the subject starts afresh (SPEC §4).
 */
export function decodeState(text: string | null | undefined): DecodedState {
  if (text === null || text === undefined || text === '') return { state: emptyState() }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { state: emptyState(), problem: 'pqlkit_state is not valid JSON; the subject starts afresh' }
  }
  const corrupt = stateProblem(json)
  if (corrupt !== undefined) {
    const version = typeof json === 'object' && json !== null ? (json as { v?: unknown }).v : undefined
    return {
      state: emptyState(),
      problem:
        version !== STATE_VERSION
          ? `pqlkit_state has version ${JSON.stringify(version)}, expected ${STATE_VERSION}; the subject starts afresh`
          : `pqlkit_state is corrupt at ${corrupt.join('.')}; the subject starts afresh`
    }
  }
  return { state: json as SubjectState }
}

type Check = (value: unknown) => (string | number)[] | undefined

const OK = undefined
const fail: (string | number)[] = []
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const isTime = (value: unknown) => typeof value === 'number' && Number.isFinite(value)
const time: Check = (value) => (isTime(value) ? OK : fail)
const day: Check = (value) => (Number.isSafeInteger(value) ? OK : fail)
const text: Check = (value) => (typeof value === 'string' ? OK : fail)
const num: Check = (value) => (typeof value === 'number' ? OK : fail)
const optional = (check: Check): Check => (value) => (value === undefined ? OK : check(value))

const record =
  (check: Check): Check =>
  (value) => {
    if (!isObject(value)) return fail
    for (const key in value) {
      const problem = check(value[key])
      if (problem) return [key, ...problem]
    }
    return OK
  }
const array =
  (check: Check): Check =>
  (value) => {
    if (!Array.isArray(value)) return fail
    for (let i = 0; i < value.length; i++) {
      const problem = check(value[i])
      if (problem) return [i, ...problem]
    }
    return OK
  }
const tuple =
  (...checks: Check[]): Check =>
  (value) => {
    if (!Array.isArray(value) || value.length !== checks.length) return fail
    for (let i = 0; i < checks.length; i++) {
      const problem = checks[i](value[i])
      if (problem) return [i, ...problem]
    }
    return OK
  }
const object =
  (shape: Record<string, Check>): Check =>
  (value) => {
    if (!isObject(value)) return fail
    for (const key in shape) {
      const problem = shape[key](value[key])
      if (problem) return [key, ...problem]
    }
    return OK
  }

const scalar: Check = (value) => (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? OK : fail)
const latest = tuple(scalar, time, text)
const signalState = object({
  f: text,
  n: optional(num),
  d: optional(record(num)),
  h: optional(array(text)),
  hd: optional(record(day)),
  a: optional(array(day)),
  t: optional(time),
  l: optional(latest)
})
const subjectState = object({
  v: (value) => (value === STATE_VERSION ? OK : fail),
  s: record(signalState),
  o: record(record(time)),
  k: record(tuple(num, time)),
  r: record(array(tuple(time, num))),
  h: record(time),
  m: array(text),
  c: optional(tuple(text, time)),
  u: optional(text),
  ca: optional(text),
  n: optional(latest),
  dm: optional(latest)
})

/**
 * Where a decoded state departs from `SubjectState` (the path), or undefined when it
 * conforms. The same rules as the zod schema, checked by hand: decoding runs once per
 * subject per batch, and zod's generic walk was half the engine's time (a property test
 * keeps the two in agreement).
 */
export function stateProblem(json: unknown): (string | number)[] | undefined {
  return subjectState(json)
}

export class StateTooLargeError extends Error {
  constructor(readonly size: number) {
    super(`the subject's aggregates need ${size} characters, more than the ${MAX_STATE_CHARS} pqlkit_state may hold`)
    this.name = 'StateTooLargeError'
  }
}

/** The schema's key order, so the same state always gives the same text (no needless rewrite). */
function canonical(state: SubjectState): SubjectState {
  const { v, s, o, k, r, h, m, c, u, ca, n, dm } = state
  return { v, s, o, k, r, h, m, c, u, ca, n, dm }
}

/** Serialises a state within MAX_STATE_CHARS, dropping the oldest message ids first, never aggregates. */
export function encodeState(input: SubjectState): string {
  const state = canonical(input)
  let text = JSON.stringify(state)
  if (text.length <= MAX_STATE_CHARS) return text
  const idChars = state.m.length === 0 ? 0 : JSON.stringify(state.m).length / state.m.length
  const excess = text.length - MAX_STATE_CHARS
  let keep = Math.max(0, state.m.length - Math.ceil(excess / Math.max(idChars, 1)))
  for (;;) {
    text = JSON.stringify({ ...state, m: state.m.slice(state.m.length - keep) })
    if (text.length <= MAX_STATE_CHARS) return text
    if (keep === 0) throw new StateTooLargeError(text.length)
    keep = Math.max(0, keep - 10)
  }
}
