import { z } from 'zod'

/**
 * A subject's aggregation state (SPEC §4). In memory it has readable names (`SubjectState`);
 * in the HubSpot property `pqlkit_state` it is compact JSON with one- and two-letter keys
 * (`WireState`), because every character counts against HubSpot's 65,536-character limit.
 * `decodeState` and `encodeState` translate between the two; nothing else sees the wire keys.
 * Times are epoch milliseconds, days are UTC days since the epoch, distinct values and
 * message ids are 8-character hashes (`fingerprint`).
 *
 * Versions: 1 kept the message ids as a JSON array; 2 (written since) packs them into one
 * string, 8 characters each, in memory as on the wire, so reading and writing a state parses
 * and allocates one string instead of up to 500 (the codec's main cost). Version 1 states
 * still decode. Adding an optional field needs no new version: add it to `SubjectState`, the
 * zod schema (`wireFields`), the hand check (`wireFieldChecks`), `fromWire` and `toWire`; a state without it
 * decodes as before.
 */

/** A trait's latest value: value, its event's time and message id (ties: larger message id). */
export type Latest = [value: string | number | boolean, at: number, messageId: string]

/** One signal's aggregates; which of them are set follows the signal's kind. */
export type SignalState = {
  /** Fingerprint of the signal's definition: state from another definition is dropped. */
  fingerprint: string
  /** Total (count, sum) or presence (flag: 1). */
  total?: number
  /** Per-day totals (UTC day → total), for windowed count and sum. */
  dailyTotals?: Record<string, number>
  /** Distinct hashes (unwindowed distinct, distinct_users), at most 1,000. */
  distinct?: string[]
  /** Distinct hash → last UTC day seen (windowed distinct), the 1,000 most recent. */
  distinctLastDay?: Record<string, number>
  /** Active UTC days. */
  activeDays?: number[]
  /** First seen (first_seen) or last seen (last_seen) time. */
  seenAt?: number
  /** Latest trait value. */
  latest?: Latest
}

export type SubjectState = {
  /** Signal states by signal name. */
  signals: Record<string, SignalState>
  /** Once-marks: score property → rule key → time the condition first held. */
  onceMarks: Record<string, Record<string, number>>
  /** Last evaluated score: property → [value, time it last changed]. */
  lastScores: Record<string, [value: number, changedAt: number]>
  /** Score changes for `rises_by` hand-offs: property → [time, value][]. */
  scoreChanges: Record<string, [at: number, value: number][]>
  /** Hand-off marks: hand-off key → time it last fired. */
  handoffMarks: Record<string, number>
  /** Hashes of the last processed message ids, oldest first, packed: `MESSAGE_ID_CHARS` characters each. */
  messageIds: string
  /** Contacts: the company last seen with, and when. */
  lastCompany?: [company: string, at: number]
  /** Contacts: the key a company counts them by in `distinct_users`; their first key, kept when a userId-only contact gets its email. */
  countedAs?: string
  /** Contacts: the company HubSpot is known to have them associated with. */
  associatedCompany?: string
  /** The fingerprint of the model that last evaluated the subject. */
  model?: string
  /** Companies: latest name and domain from group traits. */
  name?: Latest
  domain?: Latest
}

const Time = z.number().finite()
const Day = z.number().int()
const WireLatest = z.tuple([z.union([z.string(), z.number(), z.boolean()]), Time, z.string()])

/** `SignalState` as stored: the same fields under short keys. */
export const WireSignalState = z.object({
  /** fingerprint */
  f: z.string(),
  /** total */
  n: z.number().optional(),
  /** dailyTotals */
  d: z.record(z.string(), z.number()).optional(),
  /** distinct */
  h: z.array(z.string()).optional(),
  /** distinctLastDay */
  hd: z.record(z.string(), Day).optional(),
  /** activeDays */
  a: z.array(Day).optional(),
  /** seenAt */
  t: Time.optional(),
  /** latest */
  l: WireLatest.optional()
})
export type WireSignalState = z.infer<typeof WireSignalState>

const wireFields = {
  /** signals */
  s: z.record(z.string(), WireSignalState),
  /** onceMarks */
  o: z.record(z.string(), z.record(z.string(), Time)),
  /** lastScores */
  k: z.record(z.string(), z.tuple([z.number(), Time])),
  /** scoreChanges */
  r: z.record(z.string(), z.array(z.tuple([Time, z.number()]))),
  /** handoffMarks */
  h: z.record(z.string(), Time),
  /** lastCompany */
  c: z.tuple([z.string(), Time]).optional(),
  /** countedAs */
  u: z.string().optional(),
  /** associatedCompany */
  ca: z.string().optional(),
  /** name */
  n: WireLatest.optional(),
  /** domain */
  dm: WireLatest.optional(),
  /** model */
  md: z.string().optional()
}

/** `SubjectState` as stored in `pqlkit_state`, with its format version (see the top of this file). */
export const WireState = z.discriminatedUnion('v', [
  z.object({ v: z.literal(2), ...wireFields, /** messageIds, packed */ m: z.string().regex(/^(.{8})*$/s) }),
  z.object({ v: z.literal(1), ...wireFields, /** messageIds */ m: z.array(z.string()) })
])
export type WireState = z.infer<typeof WireState>

export const STATE_VERSION = 2
export const MAX_MESSAGE_IDS = 500
/** The length of a message-id hash (`fingerprint`). */
export const MESSAGE_ID_CHARS = 8
/** Well under HubSpot's 65,536-character limit for a property value. */
export const MAX_STATE_CHARS = 60_000

/*
 * States and signal states are made with every field named, in `fromWire`'s order (unset
 * ones `undefined`, which the codec leaves out): one shape each, whether new or decoded,
 * keeps the engine's reads of their fields fast.
 */

export function emptyState(): SubjectState {
  return {
    signals: {},
    onceMarks: {},
    lastScores: {},
    scoreChanges: {},
    handoffMarks: {},
    messageIds: '',
    lastCompany: undefined,
    countedAs: undefined,
    associatedCompany: undefined,
    name: undefined,
    domain: undefined,
    model: undefined
  }
}

/** A signal's state before any event (its definition's fingerprint only). */
export function newSignalState(fingerprint: string): SignalState {
  return { fingerprint, total: undefined, dailyTotals: undefined, distinct: undefined, distinctLastDay: undefined, activeDays: undefined, seenAt: undefined, latest: undefined }
}

/** Whether the packed message ids hold `id` (at an id's boundary). */
export function hasMessageId(messageIds: string, id: string): boolean {
  for (let at = messageIds.indexOf(id); at !== -1; at = messageIds.indexOf(id, at + 1)) if (at % MESSAGE_ID_CHARS === 0) return true
  return false
}

/**
 * A counting filter over a state's message ids, kept in step with the packed string: each id
 * counts in two of 8,192 counters (chosen by a hash of its characters). An id whose counters
 * are not both above zero is not among the ids; one whose counters are is looked for in the
 * packed string (about 1 in 75 new ids, with 500 held). A counter that reaches 255 stays
 * there (it may then only send an id to the packed string needlessly, never miss one).
 * Typed counters, 8 KB a state, rather than a Set of 500 strings: no objects for the garbage
 * collector to trace, and a miss is two array reads.
 */
type IdFilter = { packed: string; counts: Uint8Array }

const FILTER_SIZE = 8192
const FILTER_MASK = FILTER_SIZE - 1
const STUCK = 255
/** The fewest ids a state holds for a filter to be made for it. */
const FILTER_FROM = 64

/** `null`: the state was applied to once, without a filter. */
const idFilters = new WeakMap<SubjectState, IdFilter | null>()

/** A 32-bit hash (FNV-1a) of the id in `text` at `at`, read in place. */
function idHash(text: string, at: number): number {
  let hash = 0x811c9dc5
  for (let i = at; i < at + MESSAGE_ID_CHARS; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619)
  return hash
}

function count(counts: Uint8Array, hash: number, by: 1 | -1): void {
  const first = hash & FILTER_MASK
  if (counts[first] !== STUCK) counts[first] += by
  const second = (hash >>> 13) & FILTER_MASK
  if (counts[second] !== STUCK) counts[second] += by
}

function idFilterOf(packed: string, counts = new Uint8Array(FILTER_SIZE)): IdFilter {
  for (let at = 0; at < packed.length; at += MESSAGE_ID_CHARS) count(counts, idHash(packed, at), 1)
  return { packed, counts }
}

/** The look-ups of one application from which a state decoded for it is worth a filter. */
const SCRATCH_FROM = 8
/** The counters of a filter made for one application only, cleared after it: one set, reused, since applications never overlap. */
const scratch = new Uint8Array(FILTER_SIZE)

/**
 * A state's message ids while events are applied to it: `has`, `add`, then `close` to drop
 * the oldest beyond MAX_MESSAGE_IDS. Looking an id up in the packed string is a scan of up to
 * 4,000 characters (about 2 µs, for every event and subject: most of the engine's time), so a
 * state applied to more than once (kept decoded by a worker, or replayed event by event) gets
 * a filter of its ids (`IdFilter`) that answers most look-ups without the scan, once it holds
 * `FILTER_FROM` ids. A state decoded for one batch is scanned when the batch brings it a few
 * events (`lookups`): building a filter would cost more than their scans; for more, it gets
 * a filter in counters kept for one application (`scratch`, no allocation). A filter for a
 * few ids is not worth it either: their scan is short (and a kept filter is 8 KB, for each
 * of a replay's thousands of small states).
 */
export class MessageIds {
  private readonly filter: IdFilter | null
  private readonly scratch: boolean
  /** The id `has` last looked for, and its hash, for the `add` that follows a miss. */
  private hashed = ''
  private hash = 0

  constructor(
    private readonly state: SubjectState,
    lookups = 1
  ) {
    const known = idFilters.get(state)
    const few = state.messageIds.length < FILTER_FROM * MESSAGE_ID_CHARS
    this.scratch = known === undefined && lookups >= SCRATCH_FROM && !few
    if (known === undefined) {
      this.filter = this.scratch ? idFilterOf(state.messageIds, scratch) : null
      idFilters.set(state, null)
    } else if (known !== null && known.packed === state.messageIds) this.filter = known
    else if (few) this.filter = null
    else {
      this.filter = idFilterOf(state.messageIds)
      idFilters.set(state, this.filter)
    }
  }

  private hashOf(id: string): number {
    if (this.hashed !== id) {
      this.hash = idHash(id, 0)
      this.hashed = id
    }
    return this.hash
  }

  has(id: string): boolean {
    if (this.filter) {
      const hash = this.hashOf(id)
      const counts = this.filter.counts
      if (counts[hash & FILTER_MASK] === 0 || counts[(hash >>> 13) & FILTER_MASK] === 0) return false
    }
    return hasMessageId(this.state.messageIds, id)
  }

  add(id: string): void {
    this.state.messageIds += id
    if (this.filter) count(this.filter.counts, this.hashOf(id), 1)
  }

  close(): void {
    const packed = this.state.messageIds
    const drop = packed.length - MAX_MESSAGE_IDS * MESSAGE_ID_CHARS
    if (drop > 0) {
      if (this.filter) for (let at = 0; at < drop; at += MESSAGE_ID_CHARS) count(this.filter.counts, idHash(packed, at), -1)
      this.state.messageIds = packed.slice(drop)
    }
    if (this.scratch) scratch.fill(0)
    else if (this.filter) this.filter.packed = this.state.messageIds
  }
}

/** The packed message ids as a list, oldest first. */
export function messageIdList(messageIds: string): string[] {
  const list: string[] = []
  for (let at = 0; at < messageIds.length; at += MESSAGE_ID_CHARS) list.push(messageIds.slice(at, at + MESSAGE_ID_CHARS))
  return list
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
        version !== STATE_VERSION && version !== 1
          ? `pqlkit_state has version ${JSON.stringify(version)}, expected ${STATE_VERSION} (or 1); the subject starts afresh`
          : `pqlkit_state is corrupt at ${corrupt.join('.')}; the subject starts afresh`
    }
  }
  return { state: fromWire(json as WireState) }
}

/**
 * The wire state's fields under their readable names. Plain object literals, field by field:
 * this runs once per subject per batch, so no generic walk over a table of names. The
 * records and tuples inside are taken over as parsed, not copied.
 */
function fromWire(wire: WireState): SubjectState {
  const signals: Record<string, SignalState> = {}
  const stored = wire.s
  for (const name in stored) {
    const s = stored[name]
    signals[name] = { fingerprint: s.f, total: s.n, dailyTotals: s.d, distinct: s.h, distinctLastDay: s.hd, activeDays: s.a, seenAt: s.t, latest: s.l }
  }
  return {
    signals,
    onceMarks: wire.o,
    lastScores: wire.k,
    scoreChanges: wire.r,
    handoffMarks: wire.h,
    // Version 1's list, packed; an id of another length (never written by pqlkit) is left out.
    messageIds: typeof wire.m === 'string' ? wire.m : wire.m.filter((id) => id.length === MESSAGE_ID_CHARS).join(''),
    lastCompany: wire.c,
    countedAs: wire.u,
    associatedCompany: wire.ca,
    name: wire.n,
    domain: wire.dm,
    model: wire.md
  }
}

/**
 * The state under its wire keys, in the schema's key order, so the same state always gives
 * the same text (no needless rewrite). Unset fields are left `undefined`: JSON.stringify
 * omits them.
 */
function toWire(state: SubjectState): WireState {
  const s: Record<string, WireSignalState> = {}
  const signals = state.signals
  for (const name in signals) {
    const signal = signals[name]
    s[name] = {
      f: signal.fingerprint,
      n: signal.total,
      d: signal.dailyTotals,
      h: signal.distinct,
      hd: signal.distinctLastDay,
      a: signal.activeDays,
      t: signal.seenAt,
      l: signal.latest
    }
  }
  return {
    v: STATE_VERSION as 2,
    s,
    o: state.onceMarks,
    k: state.lastScores,
    r: state.scoreChanges,
    h: state.handoffMarks,
    m: state.messageIds,
    c: state.lastCompany,
    u: state.countedAs,
    ca: state.associatedCompany,
    n: state.name,
    dm: state.domain,
    md: state.model
  }
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
const wireSignalState = object({
  f: text,
  n: optional(num),
  d: optional(record(num)),
  h: optional(array(text)),
  hd: optional(record(day)),
  a: optional(array(day)),
  t: optional(time),
  l: optional(latest)
})
const packed: Check = (value) => (typeof value === 'string' && value.length % MESSAGE_ID_CHARS === 0 ? OK : fail)
const wireFieldChecks = {
  s: record(wireSignalState),
  o: record(record(time)),
  k: record(tuple(num, time)),
  r: record(array(tuple(time, num))),
  h: record(time),
  c: optional(tuple(text, time)),
  u: optional(text),
  ca: optional(text),
  n: optional(latest),
  dm: optional(latest),
  md: optional(text)
}
const wireStates: Record<number, Check> = {
  2: object({ v: () => OK, ...wireFieldChecks, m: packed }),
  1: object({ v: () => OK, ...wireFieldChecks, m: array(text) })
}
const wireState: Check = (value) => {
  const check = isObject(value) && typeof value.v === 'number' ? wireStates[value.v] : undefined
  return check ? check(value) : ['v']
}

/**
 * Where parsed `pqlkit_state` JSON departs from `WireState` (the path, in wire keys), or
 * undefined when it conforms. The same rules as the zod schema, checked by hand: decoding
 * runs once per subject per batch, and zod's generic walk was half the engine's time (a
 * property test keeps the two in agreement).
 */
export function stateProblem(json: unknown): (string | number)[] | undefined {
  return wireState(json)
}

export class StateTooLargeError extends Error {
  constructor(readonly size: number) {
    super(`the subject's aggregates need ${size} characters, more than the ${MAX_STATE_CHARS} pqlkit_state may hold`)
    this.name = 'StateTooLargeError'
  }
}

/** Serialises a state within MAX_STATE_CHARS, dropping the oldest message ids first, never aggregates. */
export function encodeState(input: SubjectState): string {
  const state = toWire(input)
  let text = JSON.stringify(state)
  if (text.length <= MAX_STATE_CHARS) return text
  const ids = state.m as string
  let keep = Math.max(0, ids.length / MESSAGE_ID_CHARS - Math.ceil((text.length - MAX_STATE_CHARS) / MESSAGE_ID_CHARS))
  for (;;) {
    text = JSON.stringify({ ...state, m: ids.slice(ids.length - keep * MESSAGE_ID_CHARS) })
    if (text.length <= MAX_STATE_CHARS) return text
    if (keep === 0) throw new StateTooLargeError(text.length)
    keep = Math.max(0, keep - 10)
  }
}
