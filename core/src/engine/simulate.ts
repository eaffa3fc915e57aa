import type { Model, SubjectKind } from '../model/compile'
import { applyEvents } from './aggregate'
import { attributeToCompanies } from './company'
import { ValidationError } from './errors'
import { evaluateContact, evaluateSection, Evaluation, PropertyValue, Reason } from './evaluate'
import { ProductEvent, ValidEvent, validateEvent } from './event'
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

/** A subject as the replay keeps it: its state, and its last evaluation. */
export type ReplaySubject = { state: SubjectState; email?: string; handoffs: { on: string; at: string }[]; last?: Evaluation }

/** An event that failed validation, by its position in the input. */
export type RejectedEvent = { index: number; messageId?: string; error: ValidationError }

/** `user:<id>` until the contact is seen with an email. */
const userKey = (userId: string) => `user:${userId}`

/**
 * Validates the events dated up to `now` and sorts them into replay order: timestamp, then
 * messageId. Events dated after `now` are only counted.
 */
export function replayOrder(
  events: ProductEvent[],
  now: number
): { valid: { event: ValidEvent; index: number }[]; rejected: RejectedEvent[]; afterNow: number } {
  const rejected: RejectedEvent[] = []
  const valid: { event: ValidEvent; index: number }[] = []
  let afterNow = 0
  events.forEach((event, index) => {
    if (parseTimestamp(String(event?.timestamp)) > now) {
      afterNow++
      return
    }
    try {
      valid.push({ event: validateEvent(event, now), index })
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      rejected.push({ index, messageId: typeof event?.messageId === 'string' ? event.messageId : undefined, error })
    }
  })
  valid.sort(({ event: a }, { event: b }) => a.at - b.at || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0))
  return { valid, rejected, afterNow }
}

/**
 * The offline real-time stream behind `simulate` and `backtest`: `apply` takes events in
 * replay order and evaluates the subjects they touch at the event's own timestamp; the
 * caller evaluates any subject at any later time. Rejections are pushed to `rejected`.
 */
export function createReplay(model: Model, rejected: RejectedEvent[]) {
  const contacts = new Map<string, ReplaySubject>()
  const companies = new Map<string, ReplaySubject>()
  const userIds = new Map<string, string>()
  const subjectOf = (map: Map<string, ReplaySubject>, key: string): ReplaySubject => {
    let subject = map.get(key)
    if (!subject) {
      subject = { state: emptyState(), handoffs: [] }
      map.set(key, subject)
    }
    return subject
  }

  /**
   * The pipeline's identity rules, offline: a userId-only event joins the contact its userId
   * is on; an email arriving with a userId claims that contact when it is still anonymous.
   * Two existing contacts are never merged: the userId stays where it is.
   */
  const resolveContact = (event: ValidEvent): string => {
    const userId = event.userId
    if (event.email === undefined) {
      const key = userIds.get(userId!) ?? userKey(userId!)
      userIds.set(userId!, key)
      return key
    }
    if (userId !== undefined) {
      const current = userIds.get(userId)
      if (current === undefined) userIds.set(userId, event.email)
      else if (current !== event.email && current.startsWith('user:') && !contacts.has(event.email)) {
        const anonymous = contacts.get(current)
        contacts.delete(current)
        if (anonymous) contacts.set(event.email, anonymous)
        userIds.set(userId, event.email)
      }
    }
    return event.email
  }

  const evaluateCompany = (subject: ReplaySubject, at: number): Evaluation => {
    subject.last = { ...evaluateSection(model.company!, subject.state, at), handoffs: [] }
    return subject.last
  }
  const evaluate = (subject: ReplaySubject, at: number): Evaluation => {
    const evaluation = evaluateContact(model, subject.state, at, { email: subject.email })
    for (const intent of evaluation.handoffs) subject.handoffs.push({ on: intent.on, at: new Date(at).toISOString() })
    subject.last = evaluation
    return evaluation
  }

  const apply = (event: ValidEvent, index: number): void => {
    const key = resolveContact(event)
    const contact = subjectOf(contacts, key)
    if (event.email !== undefined) contact.email = event.email
    const { accepted, rejected: bad } = applyEvents(model.contact, contact.state, [{ event, contact: key }], event.at)
    for (const { error } of bad) rejected.push({ index, messageId: event.messageId, error })
    for (const [companyKey, attributed] of attributeToCompanies(model, contact.state, key, contact.email, accepted)) {
      const company = subjectOf(companies, companyKey)
      const result = applyEvents(model.company!, company.state, attributed, event.at)
      for (const { error } of result.rejected) rejected.push({ index, messageId: event.messageId, error })
      evaluateCompany(company, event.at)
    }
    evaluate(contact, event.at)
  }

  return { contacts, companies, apply, evaluateContact: evaluate, evaluateCompany }
}

/**
 * Replays events offline as a real-time stream (SPEC §7): in timestamp order (ties: messageId),
 * evaluating after each event at its own timestamp, then every subject at `now` (default: the
 * latest event's timestamp). Pure: the same input always gives the same output.
 */
export function simulate(model: Model, events: ProductEvent[], nowOption?: number): SimulationResult {
  const now = nowOption ?? latestTimestamp(events)
  const { valid, rejected, afterNow } = replayOrder(events, now)
  const replay = createReplay(model, rejected)
  for (const { event, index } of valid) replay.apply(event, index)
  for (const contact of replay.contacts.values()) replay.evaluateContact(contact, now)
  for (const company of replay.companies.values()) replay.evaluateCompany(company, now)

  const report = (subject: SubjectKind, map: Map<string, ReplaySubject>): SubjectReport[] =>
    [...map.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, { state, handoffs, last }]) => ({
        subject,
        id: id.startsWith('user:') ? id.slice(5) : id,
        properties: subject === 'company' ? { ...companyInfo(state), ...last!.properties } : last!.properties,
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

/** A company's `name` and `domain` from its latest group traits. */
export function companyInfo(state: SubjectState): Record<string, string> {
  const info: Record<string, string> = {}
  if (state.name) info.name = String(state.name[0])
  if (state.domain) info.domain = String(state.domain[0])
  return info
}
