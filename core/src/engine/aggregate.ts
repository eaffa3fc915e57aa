import type { Section, Signal } from '../model/compile'
import { ConditionValue, evaluateCondition, isNumeric } from '../model/condition'
import { DAY_MS } from '../model/duration'
import { fingerprint } from '../hash'
import { ValidationError } from './errors'
import { readPath, ValidEvent } from './event'
import { Latest, MessageIds, newSignalState, SignalState, SubjectState } from './state'
import { parseTimestamp } from '../time'

export const MAX_DISTINCT = 1000

/** An event as a subject sees it; `contact` is the contact's key (for `distinct_users`). */
export type AttributedEvent = { event: ValidEvent; contact: string }

export type Rejection = { event: ValidEvent; error: ValidationError }

/**
 * `accepted`: every event not rejected, duplicates included: a company keeps its own message
 * ids, so a contact-side duplicate must still reach it (its write may be the one that failed).
 */
export type ApplyResult = { accepted: ValidEvent[]; duplicates: number; rejected: Rejection[] }

type SectionIndex = { byEvent: Map<string, Signal[]>; anyEvent: Signal[]; traits: Signal[]; byName: Map<string, Signal>; windowed: Signal[] }
const indexes = new WeakMap<Section, SectionIndex>()

const NO_TRAITS: [Signal, string | number | boolean][] = []

function indexOf(section: Section): SectionIndex {
  let index = indexes.get(section)
  if (!index) {
    index = {
      byEvent: new Map(),
      anyEvent: [],
      traits: [],
      byName: new Map(section.signals.map((signal) => [signal.name, signal])),
      windowed: section.signals.filter((signal) => signal.windowDays !== undefined)
    }
    for (const signal of section.signals) {
      if (signal.deliveredPerMapping) continue
      if (signal.kind === 'trait') index.traits.push(signal)
      else if (signal.matcher!.anyEvent) index.anyEvent.push(signal)
      else {
        for (const name of signal.matcher!.events) {
          const list = index.byEvent.get(name) ?? []
          list.push(signal)
          index.byEvent.set(name, list)
        }
      }
    }
    // Each named event's list also holds the signals of every event, so applying one event
    // allocates nothing to find its signals.
    if (index.anyEvent.length > 0) for (const [name, list] of index.byEvent) index.byEvent.set(name, [...list, ...index.anyEvent])
    indexes.set(section, index)
  }
  return index
}

export function utcDay(at: number): number {
  return Math.floor(at / DAY_MS)
}

/** A value an event property or trait contributes to a condition: scalars only. */
export function scalar(value: unknown): ConditionValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined
}

function signalState(state: SubjectState, signal: Signal): SignalState {
  let current = state.signals[signal.name]
  if (!current || current.fingerprint !== signal.fingerprint) {
    current = newSignalState(signal.fingerprint)
    state.signals[signal.name] = current
  }
  return current
}

/** Is (value, at, messageId) newer than `latest`? Ties on time go to the larger message id. */
function isNewer(at: number, messageId: string, latest: Latest | undefined): boolean {
  return latest === undefined || at > latest[1] || (at === latest[1] && messageId > latest[2])
}

/**
 * The trait value a signal would store, or a ValidationError for a wrong-typed value.
 * `undefined` means the event does not set this trait.
 */
function traitValue(signal: Signal, traits: Record<string, unknown> | undefined): string | number | boolean | undefined {
  return typedValue(signal, readPath(traits, signal.trait!), `traits.${signal.trait}`)
}

/** A trait's or `latest` property's value as the signal stores it (typed by `type:`), or a ValidationError naming `field`. */
function typedValue(signal: Signal, raw: unknown, field: string): string | number | boolean | undefined {
  if (raw === undefined || raw === null) return undefined
  const value = scalar(raw)
  if (value === undefined || typeof value === 'object') {
    throw new ValidationError(field, `expected a string, number or true/false, got ${Array.isArray(raw) ? 'a list' : typeof raw}`)
  }
  switch (signal.traitType) {
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return value
      if (typeof value === 'string' && isNumeric(value)) return Number(value)
      throw new ValidationError(field, `expected a number, got ${JSON.stringify(value).slice(0, 60)}`)
    case 'bool':
      if (typeof value === 'boolean') return value
      if (value === 'true' || value === 'false') return value === 'true'
      throw new ValidationError(field, `expected true or false, got ${JSON.stringify(value).slice(0, 60)}`)
    case 'datetime': {
      const at = typeof value === 'number' ? value : parseTimestamp(String(value))
      if (Number.isNaN(at) || typeof value === 'boolean') {
        throw new ValidationError(field, `expected a date-time, got ${JSON.stringify(value).slice(0, 60)}`)
      }
      return new Date(at).toISOString()
    }
    case 'string':
      return String(value)
    default:
      if (typeof value === 'string' && value.length > 65_000) {
        throw new ValidationError(field, `is ${value.length} characters; HubSpot takes at most 65,536`)
      }
      return value
  }
}

function matches(signal: Signal, event: ValidEvent): boolean {
  const where = signal.matcher!.where
  if (!where) return true
  return evaluateCondition(where, (name) => scalar(readPath(event.properties, name)), event.at)
}

const contactHashes = new Map<string, string>()

/**
 * A contact key's hash for `distinct_users`, remembered (up to 10,000 keys): every event of a
 * contact hashes the same key for each such signal of its company.
 */
function contactHash(contact: string): string {
  let hash = contactHashes.get(contact)
  if (hash === undefined) {
    if (contactHashes.size >= 10_000) contactHashes.clear()
    hash = fingerprint(contact)
    contactHashes.set(contact, hash)
  }
  return hash
}

/** The last event hashed, and its hash: an event applied to its contact and then to its company is hashed once. */
let lastHashed: ValidEvent | undefined
let lastHash = ''

/** The hash a state keeps of an event's message id (with its mapping: one event delivered per mapping counts once for each). */
function messageIdHash(event: ValidEvent): string {
  if (lastHashed !== event) {
    lastHash = fingerprint(event.mapping === undefined ? event.messageId : `${event.messageId}\u0000${event.mapping}`)
    lastHashed = event
  }
  return lastHash
}

/** What applying one event did: applied, skipped as a duplicate, or rejected with its error. */
export type Applied = 'applied' | 'duplicate' | ValidationError

/**
 * Applies events to a subject's signal states, in place. Message ids already in state are
 * skipped, so a retried batch never double-counts; the result is the same for any order
 * and batching of the same events. An event with a wrong-typed trait is rejected whole.
 */
export function applyEvents(section: Section, state: SubjectState, events: AttributedEvent[], now: number): ApplyResult {
  const index = indexOf(section)
  const today = utcDay(now)
  const result: ApplyResult = { accepted: [], duplicates: 0, rejected: [] }
  const seen = new MessageIds(state, events.length)
  for (const { event, contact } of events) {
    const applied = applyOne(section, index, state, seen, event, contact, today)
    if (applied instanceof ValidationError) result.rejected.push({ event, error: applied })
    else {
      if (applied === 'duplicate') result.duplicates++
      result.accepted.push(event)
    }
  }
  seen.close()
  pruneWindows(index.windowed, state, today)
  return result
}

/**
 * `applyEvents` for a single event, with nothing made for its result: the offline replay
 * applies every event alone. Rejected, the error; otherwise whether it was a duplicate.
 */
export function applyEvent(section: Section, state: SubjectState, event: ValidEvent, contact: string, now: number): Applied {
  const index = indexOf(section)
  const today = utcDay(now)
  const seen = new MessageIds(state)
  const applied = applyOne(section, index, state, seen, event, contact, today)
  seen.close()
  pruneWindows(index.windowed, state, today)
  return applied
}

function applyOne(section: Section, index: SectionIndex, state: SubjectState, seen: MessageIds, event: ValidEvent, contact: string, today: number): Applied {
  const id = messageIdHash(event)
  if (seen.has(id)) return 'duplicate'
  const traitKind = section.subject === 'contact' ? 'identify' : 'group'
  let traitUpdates = NO_TRAITS
  if (event.kind === traitKind) {
    try {
      for (const signal of index.traits) {
        const value = traitValue(signal, event.traits)
        if (value === undefined) continue
        if (traitUpdates === NO_TRAITS) traitUpdates = []
        traitUpdates.push([signal, value])
      }
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      return error
    }
  }
  seen.add(id)

  for (const [signal, value] of traitUpdates) {
    const current = signalState(state, signal)
    if (isNewer(event.at, event.messageId, current.latest)) current.latest = [value, event.at, event.messageId]
  }
  if (section.subject === 'company' && event.kind === 'group') applyCompanyInfo(state, event)
  if (event.kind !== 'track') return 'applied'

  const day = utcDay(event.at)
  const mapped = event.mapping === undefined ? undefined : index.byName.get(event.mapping)
  const signals = event.mapping === undefined ? (index.byEvent.get(event.event!) ?? index.anyEvent) : mapped ? [mapped] : []
  for (const signal of signals) {
    if (signal.windowDays !== undefined && day <= today - signal.windowDays) continue
    if (!matches(signal, event)) continue
    applyToSignal(signal, signalState(state, signal), event, day, contact)
  }
  return 'applied'
}

function applyToSignal(signal: Signal, current: SignalState, event: ValidEvent, day: number, contact: string): void {
  switch (signal.kind) {
    case 'flag':
      current.total = 1
      return
    case 'count':
    case 'sum': {
      let amount = 1
      if (signal.kind === 'sum') {
        const raw = readPath(event.properties, signal.of!)
        const value = typeof raw === 'number' ? raw : typeof raw === 'string' && isNumeric(raw) ? Number(raw) : NaN
        if (!Number.isFinite(value)) return
        amount = value
      }
      if (signal.windowDays === undefined) current.total = (current.total ?? 0) + amount
      else {
        current.dailyTotals ??= {}
        current.dailyTotals[day] = (current.dailyTotals[day] ?? 0) + amount
      }
      return
    }
    case 'distinct': {
      const raw = scalar(readPath(event.properties, signal.of!))
      if (raw !== undefined) addDistinct(signal, current, fingerprint(String(raw)), day)
      return
    }
    case 'distinct_users':
      addDistinct(signal, current, contactHash(contact), day)
      return
    case 'active_days': {
      current.activeDays ??= []
      if (!current.activeDays.includes(day)) current.activeDays.push(day)
      return
    }
    case 'first_seen':
      if (current.seenAt === undefined || event.at < current.seenAt) current.seenAt = event.at
      return
    case 'last_seen':
      if (current.seenAt === undefined || event.at > current.seenAt) current.seenAt = event.at
      return
    case 'latest': {
      // Like `sum` with a non-number, a value of the wrong type is not the signal's: ignored.
      let value: string | number | boolean | undefined
      try {
        value = typedValue(signal, scalar(readPath(event.properties, signal.of!)), `properties.${signal.of}`)
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error
        return
      }
      if (value !== undefined && isNewer(event.at, event.messageId, current.latest)) current.latest = [value, event.at, event.messageId]
      return
    }
  }
}

function addDistinct(signal: Signal, current: SignalState, hash: string, day: number): void {
  if (signal.windowDays === undefined) {
    current.distinct ??= []
    if (current.distinct.length < MAX_DISTINCT && !current.distinct.includes(hash)) current.distinct.push(hash)
    return
  }
  // Keeps the 1,000 values seen most recently (ties: larger hash): a deterministic set for
  // any order of events, and exact whenever fewer than 1,000 fall inside the window.
  const days = (current.distinctLastDay ??= {})
  if (Object.prototype.hasOwnProperty.call(days, hash)) {
    days[hash] = Math.max(days[hash], day)
    return
  }
  days[hash] = day
  const keys = Object.keys(days)
  if (keys.length <= MAX_DISTINCT) return
  let oldest = keys[0]
  for (const key of keys) {
    if (days[key] < days[oldest] || (days[key] === days[oldest] && key < oldest)) oldest = key
  }
  delete days[oldest]
}

function pruneWindows(windowed: Signal[], state: SubjectState, today: number): void {
  for (const signal of windowed) {
    const current = state.signals[signal.name]
    if (!current) continue
    const oldest = today - signal.windowDays!
    if (current.dailyTotals) for (const day in current.dailyTotals) if (Number(day) <= oldest) delete current.dailyTotals[day]
    const days = current.activeDays
    if (days === undefined) continue
    let inside = 0
    while (inside < days.length && days[inside] > oldest) inside++
    if (inside < days.length) current.activeDays = days.filter((day) => day > oldest)
  }
}

export function normalizeDomain(text: string): string | undefined {
  const domain = text
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .replace(/^www\./, '')
    .split(/[/?#:]/)[0]
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) ? domain : undefined
}

function applyCompanyInfo(state: SubjectState, event: ValidEvent): void {
  const name = event.traits?.name
  if (typeof name === 'string' && name.trim() && isNewer(event.at, event.messageId, state.name)) {
    state.name = [name.trim(), event.at, event.messageId]
  }
  const domain = event.company?.domain && normalizeDomain(event.company.domain)
  if (domain && isNewer(event.at, event.messageId, state.domain)) state.domain = [domain, event.at, event.messageId]
}

/** A signal's value at `now`; `undefined` when unset (first_seen/last_seen/trait with nothing yet). */
export type SignalValue = number | boolean | string | { at: number } | undefined

function countInWindow(lastDays: Record<string, number> | undefined, oldest: number): number {
  let count = 0
  for (const hash in lastDays) if (lastDays[hash] > oldest) count++
  return count
}

export function signalValue(signal: Signal, state: SubjectState, now: number): SignalValue {
  const stored = state.signals[signal.name]
  const current = stored?.fingerprint === signal.fingerprint ? stored : undefined
  const oldest = signal.windowDays === undefined ? 0 : utcDay(now) - signal.windowDays
  switch (signal.kind) {
    case 'flag':
      return current?.total === 1
    case 'count':
    case 'sum': {
      if (signal.windowDays === undefined) return current?.total ?? 0
      let total = 0
      const totals = current?.dailyTotals
      for (const day in totals) if (Number(day) > oldest) total += totals[day]
      return total
    }
    case 'distinct':
    case 'distinct_users':
      if (signal.windowDays === undefined) return current?.distinct?.length ?? 0
      return countInWindow(current?.distinctLastDay, oldest)
    case 'active_days': {
      let count = 0
      for (const day of current?.activeDays ?? []) if (day > oldest) count++
      return count
    }
    case 'first_seen':
    case 'last_seen':
      return current?.seenAt === undefined ? undefined : { at: current.seenAt }
    case 'latest':
    case 'trait': {
      const value = current?.latest?.[0]
      if (value === undefined) return undefined
      return signal.traitType === 'datetime' ? { at: parseTimestamp(String(value)) } : value
    }
  }
}
