import { HANDOFF_PROPERTIES, Model } from '../model/compile'
import { AttributedEvent, applyEvent, applyEvents } from './aggregate'
import { attributeToCompanies, companyOf } from './company'
import { evaluateContact, evaluateSection, HandoffIntent, PropertyValue, ScoreResult } from './evaluate'
import { ValidationError } from './errors'
import type { ValidEvent } from './event'
import { emptyState, SubjectState } from './state'

/**
 * The pure batch step (`../shared/STYLE.md` §1: `apply(state, events, model, now)`), the only
 * place a score is computed: the online pipeline runs it once per batch, the offline replay
 * behind `simulate` and `backtest` once per event. Data in, data out, no clock: subjects'
 * states and a batch's events in; next states, property values, hand-off intents, wanted
 * associations and per-event rejections out. It owns the states it is given (it updates them
 * in place and returns them).
 *
 * Two stages, because a contact's company is known only once its events are applied (a track
 * without a group counts for the company the contact was last seen with): `applyToContacts`,
 * then, with the states of the companies it names, `finishBatch`.
 */

/** An event with its position in the host's batch, so each outcome goes back to its event. */
export type IndexedEvent = { index: number; event: ValidEvent }

export type Rejected = { index: number; error: ValidationError }

/** A subject as it stands before the batch: its state, and the values of its properties where it is stored. */
export type StoredSubject = { state: SubjectState; properties: Record<string, string | null> }

/** `userId`: the contact's, when known: a company counts a contact by it first (`countedAs`). */
export type ContactInput = { key: string; email?: string; userId?: string; stored?: StoredSubject; events: IndexedEvent[] }

type ContactStage = ContactInput & { state: SubjectState; lastEventAt?: number }

export type ContactsApplied = {
  /** The contacts to evaluate: those with a stored state or an accepted event. */
  contacts: ContactStage[]
  /** The companies the contacts' events count for, with those events. */
  companyEvents: Map<string, { attributed: AttributedEvent[]; events: IndexedEvent[] }>
  rejected: Rejected[]
}

export type SubjectOutcome = {
  key: string
  state: SubjectState
  /** Every property the model gives the subject (absolute values, SPEC §3.3). */
  properties: Record<string, PropertyValue>
  /** The latest time of the events this batch applied to the subject. */
  lastEventAt?: number
  scores: ScoreResult[]
}

export type ContactOutcome = SubjectOutcome & {
  email?: string
  stored?: StoredSubject
  events: IndexedEvent[]
  handoffs: HandoffIntent[]
  /** The company the contact should be associated with, when its state has not marked it so. */
  association?: string
}

/** `attributed`: the events the batch applied to the company, with the contact each counts for. */
export type CompanyOutcome = SubjectOutcome & { stored?: StoredSubject; events: IndexedEvent[]; attributed: AttributedEvent[] }

export type BatchOutcome = { contacts: ContactOutcome[]; companies: CompanyOutcome[]; rejected: Rejected[] }

function latest(events: { at: number }[]): number | undefined {
  let result: number | undefined
  for (const { at } of events) if (result === undefined || at > result) result = at
  return result
}

/** The hand-off properties (SPEC §3.5: `unless` conditions, templates) from what is stored, the contact's email first. */
export function handoffProperties(stored: Record<string, string | null> | undefined, email: string | undefined): Record<string, string | undefined> {
  const properties: Record<string, string | undefined> = {}
  for (const name of HANDOFF_PROPERTIES) properties[name] = stored?.[name] ?? undefined
  properties.email = email ?? properties.email
  return properties
}

/** Each event's position in the host's batch, looked up by the event (a Map only when there are several). */
function indexer(events: IndexedEvent[]): (event: ValidEvent) => number {
  if (events.length === 1) return () => events[0].index
  let indexOf: Map<ValidEvent, number> | undefined
  return (event) => {
    indexOf ??= new Map(events.map(({ index, event }) => [event, index]))
    return indexOf.get(event)!
  }
}

/**
 * One person, one count in a company: by userId whenever it is known, so two workers that
 * know the person by userId and by email (before either learnt both) count them alike.
 */
function countedAs(contact: { key: string; userId?: string }, state: SubjectState): string {
  // A contact counted once is counted by that key for good (`attributeToCompanies`).
  return state.countedAs ?? (contact.userId === undefined ? contact.key : `user:${contact.userId}`)
}

/** Stage one: each contact's events onto its state, and the companies they count for. */
export function applyToContacts(model: Model, inputs: ContactInput[], now: number): ContactsApplied {
  const result: ContactsApplied = { contacts: [], companyEvents: new Map(), rejected: [] }
  for (const input of inputs) {
    const state = input.stored?.state ?? emptyState()
    const indexOf = indexer(input.events)
    const attributed: AttributedEvent[] = []
    for (const { event } of input.events) attributed.push({ event, contact: input.key })
    const applied = applyEvents(model.contact, state, attributed, now)
    for (const { event, error } of applied.rejected) result.rejected.push({ index: indexOf(event), error })
    // A contact none of whose events could be applied is not created for nothing.
    if (applied.accepted.length === 0 && !input.stored) continue
    result.contacts.push({ key: input.key, email: input.email, userId: input.userId, stored: input.stored, events: input.events, state, lastEventAt: latest(applied.accepted) })
    if (!model.company) continue
    for (const [key, attributed] of attributeToCompanies(model, state, countedAs(input, state), input.email, applied.accepted)) {
      let company = result.companyEvents.get(key)
      if (!company) {
        company = { attributed: [], events: [] }
        result.companyEvents.set(key, company)
      }
      for (const item of attributed) {
        company.attributed.push(item)
        company.events.push({ index: indexOf(item.event), event: item.event })
      }
    }
  }
  return result
}

/** A company's `name` and `domain`, from its latest group traits. */
function companyInfo(state: SubjectState): Record<string, string> {
  const info: Record<string, string> = {}
  if (state.name) info.name = String(state.name[0])
  if (state.domain) info.domain = String(state.domain[0])
  return info
}

/**
 * Stage two: the companies' events onto their states (`companies` holds every company to
 * evaluate, stored or new), then every subject evaluated at `now`, hand-offs included.
 * Without `detail`, the outcomes' properties are left empty and their scores may be lean (`evaluateSection`).
 */
export function finishBatch(
  model: Model,
  applied: ContactsApplied,
  companies: Map<string, StoredSubject | undefined>,
  now: number,
  detail = true
): BatchOutcome {
  const outcome: BatchOutcome = { contacts: [], companies: [], rejected: [...applied.rejected] }
  if (model.company) {
    for (const [key, stored] of companies) {
      const state = stored?.state ?? emptyState()
      const { attributed = [], events = [] } = applied.companyEvents.get(key) ?? {}
      const result = applyEvents(model.company, state, attributed, now)
      const evaluation = evaluateSection(model.company, state, now, detail)
      state.model = model.fingerprint
      if (result.rejected.length > 0) {
        const indexOf = indexer(events)
        for (const { event, error } of result.rejected) outcome.rejected.push({ index: indexOf(event), error })
      }
      outcome.companies.push({
        key,
        state,
        stored,
        events,
        attributed,
        properties: detail && (state.name || state.domain) ? Object.assign(companyInfo(state), evaluation.properties) : evaluation.properties,
        scores: evaluation.scores,
        lastEventAt: latest(result.accepted)
      })
    }
  }
  for (const contact of applied.contacts) {
    const evaluation = evaluateContact(model, contact.state, now, handoffProperties(contact.stored?.properties, contact.email), detail)
    contact.state.model = model.fingerprint
    const company = contact.state.lastCompany?.[0]
    outcome.contacts.push({
      key: contact.key,
      email: contact.email,
      stored: contact.stored,
      events: contact.events,
      state: contact.state,
      properties: evaluation.properties,
      scores: evaluation.scores,
      handoffs: evaluation.handoffs,
      lastEventAt: contact.lastEventAt,
      association: company !== undefined && contact.state.associatedCompany !== company ? company : undefined
    })
  }
  return outcome
}

/** A contact as the offline replay keeps it between events. */
export type ReplayContact = { key: string; email?: string; userId?: string; state: SubjectState }

/**
 * The batch step on one contact's one event at the event's time, as the offline replay runs
 * it after every event: the same as `applyToContacts` then `finishBatch` without detail for a
 * contact whose state is kept, with nothing made that the replay does not keep (no outcomes,
 * no properties, no lists of one event). `hubspot`: the contact's hand-off properties
 * (`handoffProperties`); `companyState` gives the state of a company the event counts for;
 * why the contact or its company refused the event is pushed onto `rejected`. Returns the
 * hand-offs that fired.
 */
export function replayEvent(
  model: Model,
  contact: ReplayContact,
  hubspot: Record<string, string | undefined>,
  event: ValidEvent,
  companyState: (key: string) => SubjectState,
  rejected: ValidationError[]
): HandoffIntent[] {
  const now = event.at
  const state = contact.state
  const applied = applyEvent(model.contact, state, event, contact.key, now)
  if (applied instanceof ValidationError) rejected.push(applied)
  else if (model.company) {
    const key = companyOf(model, state, countedAs(contact, state), contact.email, event)
    if (key !== undefined) {
      const company = companyState(key)
      const companyApplied = applyEvent(model.company, company, event, state.countedAs!, now)
      if (companyApplied instanceof ValidationError) rejected.push(companyApplied)
      evaluateSection(model.company, company, now, false)
      company.model = model.fingerprint
    }
  }
  const { handoffs } = evaluateContact(model, state, now, hubspot, false)
  state.model = model.fingerprint
  return handoffs
}
