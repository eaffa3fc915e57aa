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
  rejected: { index: number; messageId?: string; error: ValidationError }[]
  /** Events dated after `now`: not applied. */
  afterNow: number
}

type Subject = { state: SubjectState; email?: string; handoffs: { on: string; at: string }[]; last?: Evaluation }

/** `user:<id>` until the contact is seen with an email. */
const userKey = (userId: string) => `user:${userId}`

/**
 * Replays events offline as a real-time stream (SPEC §7): in timestamp order (ties: messageId),
 * evaluating after each event at its own timestamp, then every subject at `now` (default: the
 * latest event's timestamp). Pure: the same input always gives the same output.
 */
export function simulate(model: Model, events: ProductEvent[], nowOption?: number): SimulationResult {
  const timestamps = events.map((event) => parseTimestamp(String(event?.timestamp)))
  const now = nowOption ?? Math.max(0, ...timestamps.filter((at) => !Number.isNaN(at)))
  const rejected: SimulationResult['rejected'] = []
  const valid: { event: ValidEvent; index: number }[] = []
  let afterNow = 0
  events.forEach((event, index) => {
    if (timestamps[index] > now) {
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

  const contacts = new Map<string, Subject>()
  const companies = new Map<string, Subject>()
  const userIds = new Map<string, string>()
  const subjectOf = (map: Map<string, Subject>, key: string): Subject => {
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

  const evaluateCompany = (subject: Subject, at: number) => {
    subject.last = { ...evaluateSection(model.company!, subject.state, at), handoffs: [] }
  }
  const evaluate = (subject: Subject, at: number) => {
    const evaluation = evaluateContact(model, subject.state, at, { email: subject.email })
    for (const intent of evaluation.handoffs) subject.handoffs.push({ on: intent.on, at: new Date(at).toISOString() })
    subject.last = evaluation
  }

  for (const { event, index } of valid) {
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
  for (const contact of contacts.values()) evaluate(contact, now)
  for (const company of companies.values()) evaluateCompany(company, now)

  const report = (subject: SubjectKind, map: Map<string, Subject>): SubjectReport[] =>
    [...map.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, { state, handoffs, last }]) => ({
        subject,
        id: id.startsWith('user:') ? id.slice(5) : id,
        properties: subject === 'company' ? { ...companyInfo(state), ...last!.properties } : last!.properties,
        reasons: Object.fromEntries(last!.scores.map((score) => [score.property, score.reasons])),
        handoffs
      }))
  return { now, subjects: [...report('contact', contacts), ...report('company', companies)], rejected, afterNow }
}

/** A company's `name` and `domain` from its latest group traits. */
export function companyInfo(state: SubjectState): Record<string, string> {
  const info: Record<string, string> = {}
  if (state.n) info.name = String(state.n[0])
  if (state.dm) info.domain = String(state.dm[0])
  return info
}
