import type { Model, Section, SubjectKind } from '../model/compile'
import type { Condition } from '../model/condition'
import { fingerprint } from '../hash'
import { AttributedEvent, applyEvents } from './aggregate'
import { attributeToCompanies } from './company'
import type { ValidEvent } from './event'
import type { SubjectState } from './state'

/**
 * A write's contribution (docs/architecture.md, "State"): what one batch added to one subject,
 * written beside its state in `pqlkit_contribution`, whose versions HubSpot keeps. HubSpot
 * has no conditional write, so two workers writing the same subject from the same stale read
 * each overwrite the other's state; the history of `pqlkit_contribution` still holds both
 * contributions, and the next read re-applies the ones the state does not include.
 * Re-applying is exact: events are applied with message-id dedup in any order, and the marks
 * merge by max (hand-offs, scores) or min (once-rules).
 *
 * A contribution holds the batch's events as the model reads them (their kind, ids, time,
 * event name, the properties and traits some signal reads, company, mapping), the subject's
 * marks as this write left them, and the tokens of the contributions the state written with
 * it includes (`included`: state and contribution are one record write, so the current
 * contribution says what the current state holds; `pqlkit_state` itself stays as it was).
 * Its token is a fingerprint of its events and marks, so the same content has the same token.
 */
export type Contribution = {
  token: string
  events: AttributedEvent[]
  handoffMarks: Record<string, number>
  onceMarks: Record<string, Record<string, number>>
  lastScores: Record<string, [number, number]>
  /** The tokens of the contributions the state written with this one includes (its own aside). */
  included: string[]
  /** Its events did not fit the property (more than MAX_CONTRIBUTION_CHARS): only the marks are kept. */
  partial?: boolean
}

/** Well under HubSpot's 65,536-character limit for a property value. */
export const MAX_CONTRIBUTION_CHARS = 60_000
/** The tokens a contribution lists as included: three times the versions read, so an included one never looks new. */
export const MAX_CONTRIBUTION_TOKENS = 64
/** The newest versions of `pqlkit_contribution` a read examines. */
export const CONTRIBUTIONS_EXAMINED = 20

type WireEvent = {
  /** kind: t(rack), i(dentify), g(roup) */
  k: 't' | 'i' | 'g'
  /** messageId */
  m: string
  /** at */
  a: number
  /** event name */
  n?: string
  /** the properties some signal reads */
  p?: Record<string, unknown>
  /** the traits some signal reads */
  r?: Record<string, unknown>
  /** company */
  c?: { domain?: string; groupId?: string }
  /** mapping */
  g?: string
  /** the contact a company counts the event for */
  u?: string
  /** email (a company taken from the email's domain) */
  e?: string
}

type WireContribution = {
  t: string
  e: WireEvent[]
  h: Record<string, number>
  o: Record<string, Record<string, number>>
  k: Record<string, [number, number]>
  i: string[]
  x?: 1
}

const KINDS = { track: 't', identify: 'i', group: 'g' } as const
const KIND_NAMES = { t: 'track', i: 'identify', g: 'group' } as const

type ReadNames = { properties: Set<string>; traits: Set<string> }
const readNames = new WeakMap<Section, ReadNames>()

function conditionNames(condition: Condition | undefined, names: Set<string>): void {
  if (!condition) return
  switch (condition.kind) {
    case 'and':
    case 'or':
      conditionNames(condition.left, names)
      conditionNames(condition.right, names)
      return
    case 'not':
      conditionNames(condition.operand, names)
      return
    default:
      names.add(condition.operand.name.split('.')[0])
  }
}

/** The top-level property and trait names the section's signals read (a path's first part). */
function namesOf(section: Section): ReadNames {
  let names = readNames.get(section)
  if (!names) {
    names = { properties: new Set(), traits: new Set(section.subject === 'company' ? ['name'] : []) }
    for (const signal of section.signals) {
      if (signal.of) names.properties.add(signal.of.split('.')[0])
      if (signal.trait) names.traits.add(signal.trait.split('.')[0])
      conditionNames(signal.matcher?.where, names.properties)
    }
    readNames.set(section, names)
  }
  return names
}

function pick(source: Record<string, unknown> | undefined, names: Set<string>): Record<string, unknown> | undefined {
  if (!source) return undefined
  let picked: Record<string, unknown> | undefined
  for (const name of names) {
    if (Object.prototype.hasOwnProperty.call(source, name)) (picked ??= {})[name] = source[name]
  }
  return picked
}

function sectionOf(model: Model, subject: SubjectKind): Section | undefined {
  return subject === 'contact' ? model.contact : model.company
}

function toWireEvent(model: Model, names: ReadNames, subject: SubjectKind, { event, contact }: AttributedEvent): WireEvent {
  const wire: WireEvent = { k: KINDS[event.kind], m: event.messageId, a: event.at }
  if (event.event !== undefined) wire.n = event.event
  const properties = pick(event.properties, names.properties)
  if (properties) wire.p = properties
  const traits = pick(event.traits, names.traits)
  if (traits) wire.r = traits
  if (event.company) wire.c = event.company
  if (event.mapping !== undefined) wire.g = event.mapping
  if (subject === 'company') wire.u = contact
  if (model.companyFromEmail && event.email) wire.e = event.email
  return wire
}

function fromWireEvent(wire: WireEvent): AttributedEvent {
  const event: ValidEvent = { kind: KIND_NAMES[wire.k], messageId: wire.m, timestamp: new Date(wire.a).toISOString(), at: wire.a }
  if (wire.n !== undefined) event.event = wire.n
  if (wire.p) event.properties = wire.p
  if (wire.r) event.traits = wire.r
  if (wire.c) event.company = wire.c
  if (wire.g !== undefined) event.mapping = wire.g
  if (wire.e !== undefined) event.email = wire.e
  return { event, contact: wire.u ?? '' }
}

/**
 * The contribution of a write of `state` that applied `events`, the state including the
 * contributions `included`, as `pqlkit_contribution` holds it. Events that do not fit are
 * left out (`partial`): that write cannot be repaired if another overwrites it, its marks can.
 * `included` comes back with the contribution's own token: what the written state includes.
 */
export function encodeContribution(
  model: Model,
  subject: SubjectKind,
  state: SubjectState,
  events: AttributedEvent[],
  included: string[]
): { text: string; included: string[] } {
  const section = sectionOf(model, subject)
  const names = section ? namesOf(section) : { properties: new Set<string>(), traits: new Set<string>() }
  const body: Omit<WireContribution, 't' | 'i'> = {
    e: events.map((event) => toWireEvent(model, names, subject, event)),
    h: state.handoffMarks,
    o: state.onceMarks,
    k: state.lastScores
  }
  let content = JSON.stringify(body)
  if (content.length > MAX_CONTRIBUTION_CHARS) content = JSON.stringify({ ...body, e: [], x: 1 })
  const token = fingerprint(content)
  const tokens = included.filter((candidate) => candidate !== token).slice(-MAX_CONTRIBUTION_TOKENS)
  return { text: `{"t":${JSON.stringify(token)},"i":${JSON.stringify(tokens)},${content.slice(1)}`, included: [...tokens, token] }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** A stored contribution, or undefined for a value that is not one (it is skipped). */
export function decodeContribution(text: string | null | undefined): Contribution | undefined {
  if (!text) return undefined
  let wire: unknown
  try {
    wire = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(wire) || typeof wire.t !== 'string' || !Array.isArray(wire.e) || !isRecord(wire.h) || !isRecord(wire.o) || !isRecord(wire.k)) return undefined
  if (!Array.isArray(wire.i) || !wire.i.every((token) => typeof token === 'string')) return undefined
  const events = wire.e as unknown[]
  if (!events.every((event) => isRecord(event) && typeof event.m === 'string' && typeof event.a === 'number' && typeof event.k === 'string' && event.k in KIND_NAMES)) return undefined
  return {
    token: wire.t,
    events: (events as WireEvent[]).map(fromWireEvent),
    handoffMarks: wire.h as Record<string, number>,
    onceMarks: wire.o as Record<string, Record<string, number>>,
    lastScores: wire.k as Record<string, [number, number]>,
    included: wire.i as string[],
    ...(wire.x === 1 ? { partial: true } : {})
  }
}

function mergeMarks(state: SubjectState, contribution: Contribution): void {
  for (const [key, at] of Object.entries(contribution.handoffMarks)) {
    if (!(state.handoffMarks[key] >= at)) state.handoffMarks[key] = at
  }
  for (const [property, rules] of Object.entries(contribution.onceMarks)) {
    const marks = (state.onceMarks[property] ??= {})
    for (const [rule, at] of Object.entries(rules)) if (!(marks[rule] <= at)) marks[rule] = at
  }
  // The highest score any concurrent write evaluated: a tier it entered is not entered again.
  for (const [property, entry] of Object.entries(contribution.lastScores)) {
    const current = state.lastScores[property]
    if (current === undefined || entry[0] > current[0]) state.lastScores[property] = entry
  }
}

const HEAD = /^\{"t":"([0-9a-z]*)","i":(\[[^\]]*\])/

/** A stored contribution's token without decoding the rest: a read skips the included ones at this cost. */
export function contributionToken(text: string): string | undefined {
  return HEAD.exec(text)?.[1]
}

/** The tokens the state stored with the contribution `text` (the record's current one) includes, itself too. */
export function includedBy(text: string | null | undefined): string[] {
  const head = text ? HEAD.exec(text) : null
  if (!head) return []
  const tokens = JSON.parse(head[2]) as unknown[]
  return [...tokens.filter((token): token is string => typeof token === 'string'), head[1]]
}

/**
 * Re-applies to `state`, in place, the contributions (`history`, oldest first) that it does
 * not include (`included`): a concurrent write overwrote them. `key` and `email` are the
 * subject's, as the batch step knows it. Returns the tokens the repaired state includes
 * and how many contributions were re-applied.
 */
export function repairState(
  model: Model,
  subject: SubjectKind,
  state: SubjectState,
  history: Contribution[],
  included: string[],
  key: string,
  email: string | undefined,
  now: number
): { included: string[]; repaired: number } {
  const section = sectionOf(model, subject)
  const tokens = new Set(included)
  let repaired = 0
  for (const contribution of history) {
    if (!section || tokens.has(contribution.token)) continue
    const events = subject === 'contact' ? contribution.events.map(({ event }) => ({ event, contact: key })) : contribution.events
    const applied = applyEvents(section, state, events, now)
    if (subject === 'contact') attributeToCompanies(model, state, key, email, applied.accepted)
    mergeMarks(state, contribution)
    tokens.add(contribution.token)
    repaired++
  }
  return { included: [...tokens].slice(-MAX_CONTRIBUTION_TOKENS), repaired }
}
