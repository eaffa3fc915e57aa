import type { Model, SubjectKind } from '../model/compile'
import { applyToContacts, finishBatch, handoffProperties, replayEvent, StoredSubject } from './batch'
import { ValidationError } from './errors'
import type { Evaluation, HandoffIntent, PropertyValue, Reason } from './evaluate'
import { compareReplayOrder, ProductEvent, ValidEvent, validateEvent } from './event'
import { Identities, Person } from './identity'
import { emptyState, SubjectState } from './state'
import { parseTimestamp } from '../time'

/** One subject in `pqlkit simulate --json` (SPEC §7). */
export type SubjectReport = {
  subject: SubjectKind
  id: string
  properties: Record<string, PropertyValue>
  reasons: Record<string, Reason[]>
  handoffs: { on: string; at: string }[]
}

export type SimulationResult = {
  now: number
  subjects: SubjectReport[]
  /** Events that failed validation, by their position in the input. */
  rejected: RejectedEvent[]
  /** Events dated after `now`: not applied. */
  afterNow: number
}

/** A subject as the replay keeps it: its state, and its last evaluation (with properties when it came from `evaluateContact` or `evaluateCompany`). */
export type ReplaySubject = { key: string; state: SubjectState; email?: string; userId?: string; handoffs: { on: string; at: string }[]; last?: Evaluation }

/** An event that failed validation, by its position in the input. */
export type RejectedEvent = { index: number; messageId?: string; error: ValidationError }

/** A contact's key: its email, or `user:<id>` until it is seen with one. */
const keyOf = (person: Person) => person.email ?? `user:${person.userId}`

/** What a replay's input hands each valid event to, in replay order (`index`: the event's position in the input). */
export type Visit = (event: ValidEvent, index: number) => void

/** What an input left out of a replay, and the latest timestamp it holds (`now` defaults to it). */
export type Played = {
  endOfData: number
  rejected: RejectedEvent[]
  /** Events dated after `now`: not applied. */
  afterNow: number
}

/**
 * The events a replay reads. `play` hands the valid events dated up to `now` (all of them
 * when `now` is undefined) to the visitor `start` returns, in replay order (timestamp, then
 * messageId, then input order), and calls `onProgress` as it goes. An input that finds
 * itself out of order once it has begun calls `start` again and hands the events over from
 * the first, in order: the caller begins its replay afresh at every `start`. An in-memory
 * list (`eventList`), or a file the CLI reads once when it is in time order, as hosts and
 * `pqlkit generate` write it (`cli/events-file.ts`).
 */
export type ReplayInput = {
  play(now: number | undefined, start: () => Visit, onProgress?: (done: number, total: number) => void): Played
}

/** What the first look at an event gives: its time, and the event validated or why it is not. */
export type Screened = { at: number; event?: ValidEvent; rejected?: RejectedEvent }

/**
 * An event of a replay, validated before `now` is known. Validation depends on `now` only
 * for events after it (more than 24h after: rejected; up to 24h: clamped), and the replay
 * applies no event after `now` (it only counts them), so the verdict for every event it
 * applies is the one at `now`.
 */
export function screenEvent(event: ProductEvent, index: number): Screened {
  try {
    // Validated without a `now`, an event keeps the time of its timestamp.
    const valid = validateEvent(event, Number.POSITIVE_INFINITY)
    return { at: valid.at, event: valid }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error
    const at = parseTimestamp(String(event?.timestamp))
    return { at, rejected: { index, messageId: typeof event?.messageId === 'string' ? event.messageId : undefined, error } }
  }
}

/**
 * The screened events up to `now`: the rejections in input order, the valid events' keys in
 * replay order (timestamp, then messageId; a stable sort, so input order last), the count
 * after `now`. `keys` holds each valid event's key, in input order.
 */
export function orderScreened<K extends { at: number; messageId: string }>(keys: K[], rejections: Screened[], now: number): { keys: K[]; rejected: RejectedEvent[]; afterNow: number } {
  let afterNow = 0
  const rejected: RejectedEvent[] = []
  for (const screened of rejections) {
    if (screened.at > now) afterNow++
    else rejected.push(screened.rejected!)
  }
  const kept = keys.filter((key) => {
    if (key.at <= now) return true
    afterNow++
    return false
  })
  return { keys: kept.sort(compareReplayOrder), rejected, afterNow }
}

/** An in-memory list of events as a replay's input; progress is counted in events. */
export function eventList(events: ProductEvent[]): ReplayInput {
  return {
    play: (nowOption, start, onProgress) => {
      const endOfData = latestTimestamp(events)
      const { valid, rejected, afterNow } = screenedList(events, nowOption ?? endOfData)
      const visit = start()
      valid.forEach(({ event, index }, done) => {
        if (done % 500 === 0) onProgress?.(done, valid.length)
        visit(event, index)
      })
      onProgress?.(valid.length, valid.length)
      return { endOfData, rejected, afterNow }
    }
  }
}

/** The events up to `now`, screened and in replay order, with what was left out. */
function screenedList(events: ProductEvent[], now: number) {
  const valid: { event: ValidEvent; index: number; at: number; messageId: string }[] = []
  const rejections: Screened[] = []
  events.forEach((input, index) => {
    const screened = screenEvent(input, index)
    if (screened.event) valid.push({ event: screened.event, index, at: screened.event.at, messageId: screened.event.messageId })
    else rejections.push(screened)
  })
  const { keys, rejected, afterNow } = orderScreened(valid, rejections, now)
  return { valid: keys, rejected, afterNow }
}

/**
 * Validates the events dated up to `now` and sorts them into replay order: timestamp, then
 * messageId. Events dated after `now` are only counted.
 */
export function replayOrder(
  events: ProductEvent[],
  now: number
): { valid: { event: ValidEvent; index: number }[]; rejected: RejectedEvent[]; afterNow: number } {
  return screenedList(events, now)
}

/**
 * The offline real-time stream behind `simulate` and `backtest`: `apply` takes events in
 * replay order and runs the batch step on each alone, at the event's own timestamp, with the
 * identity rules of `identity.ts`; the caller evaluates any subject at any later time.
 * Rejections are pushed to `rejected`.
 */
export function createReplay(model: Model, rejected: RejectedEvent[]) {
  const contacts = new Map<string, ReplaySubject>()
  const companies = new Map<string, ReplaySubject>()
  const identities = new Identities()
  const subjectOf = (map: Map<string, ReplaySubject>, key: string): ReplaySubject => {
    let subject = map.get(key)
    if (!subject) {
      subject = { key, state: emptyState(), email: undefined, userId: undefined, handoffs: [], last: undefined }
      map.set(key, subject)
    }
    return subject
  }
  const noteHandoffs = (subject: ReplaySubject, handoffs: HandoffIntent[]) => {
    for (const intent of handoffs) subject.handoffs.push({ on: intent.on, at: new Date(intent.at).toISOString() })
  }

  /** The batch step without events on one contact or one company at `at`, with the subject's properties. */
  const evaluate = (contact: ReplaySubject | undefined, company: ReplaySubject | undefined, at: number): Evaluation => {
    const stored = (subject: ReplaySubject): StoredSubject => ({ state: subject.state, properties: {} })
    const inputs = contact ? [{ key: contact.key, email: contact.email, userId: contact.userId, stored: stored(contact), events: [] }] : []
    const touched = new Map(company ? [[company.key, stored(company)]] : [])
    const outcome = finishBatch(model, applyToContacts(model, inputs, at), touched, at)
    const [evaluated] = contact ? outcome.contacts : outcome.companies
    const handoffs = contact ? outcome.contacts[0].handoffs : []
    const subject = (contact ?? company)!
    noteHandoffs(subject, handoffs)
    subject.last = { properties: evaluated.properties, scores: evaluated.scores, handoffs }
    return subject.last
  }

  const companyState = (key: string) => subjectOf(companies, key).state

  /** Each person's contact, and the hand-off properties its email gives. */
  const contactOf = new Map<Person, { contact: ReplaySubject; hubspot: Record<string, string | undefined> }>()
  /** What refused the event being applied, emptied after each. */
  const refused: ValidationError[] = []

  const apply = (event: ValidEvent, index: number): void => {
    const { person } = identities.resolve(event.email, event.userId)
    let known = contactOf.get(person)
    if (!known) {
      known = { contact: subjectOf(contacts, keyOf(person)), hubspot: handoffProperties(undefined, person.email) }
      contactOf.set(person, known)
    } else if (known.contact.key !== keyOf(person)) {
      // A contact known by userId alone that an email claimed: the same subject, now by email.
      contacts.delete(known.contact.key)
      known.contact.key = keyOf(person)
      contacts.set(known.contact.key, known.contact)
      known.hubspot = handoffProperties(undefined, person.email)
    }
    const contact = known.contact
    contact.email = person.email
    contact.userId = person.userId
    noteHandoffs(contact, replayEvent(model, contact, known.hubspot, event, companyState, refused))
    for (const error of refused) rejected.push({ index, messageId: event.messageId, error })
    refused.length = 0
  }
  const evaluateContact = (contact: ReplaySubject, at: number): Evaluation => evaluate(contact, undefined, at)
  const evaluateCompany = (company: ReplaySubject, at: number): Evaluation => evaluate(undefined, company, at)
  return { contacts, companies, apply, evaluateContact, evaluateCompany }
}

export type Replay = ReturnType<typeof createReplay>

/**
 * Replays events offline as a real-time stream (SPEC §7): in timestamp order (ties: messageId),
 * evaluating after each event at its own timestamp, then every subject at `now` (default: the
 * latest event's timestamp). Pure: the same input always gives the same output.
 */
export function simulate(model: Model, events: ProductEvent[] | ReplayInput, nowOption?: number): SimulationResult {
  const input = Array.isArray(events) ? eventList(events) : events
  let replay!: Replay
  let applied: RejectedEvent[] = []
  const played = input.play(nowOption, () => {
    replay = createReplay(model, (applied = []))
    return replay.apply
  })
  const now = nowOption ?? played.endOfData
  const rejected = [...played.rejected, ...applied]
  const afterNow = played.afterNow
  for (const contact of replay.contacts.values()) replay.evaluateContact(contact, now)
  for (const company of replay.companies.values()) replay.evaluateCompany(company, now)

  const report = (subject: SubjectKind, map: Map<string, ReplaySubject>): SubjectReport[] =>
    [...map.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, { handoffs, last }]) => ({
        subject,
        id: id.startsWith('user:') ? id.slice(5) : id,
        properties: last!.properties,
        reasons: Object.fromEntries(last!.scores.map((score) => [score.property, score.reasons])),
        handoffs
      }))
  return { now, subjects: [...report('contact', replay.contacts), ...report('company', replay.companies)], rejected, afterNow }
}

/** The latest valid timestamp among the events (0 when there is none). */
export function latestTimestamp(events: ProductEvent[]): number {
  let latest = 0
  for (const event of events) {
    const at = parseTimestamp(String(event?.timestamp))
    if (at > latest) latest = at
  }
  return latest
}
