import type { Model } from '../model/compile'
import { CompanyOutcome, ContactOutcome, handoffProperties } from '../engine/batch'
import { RetryableError } from '../engine/errors'
import { StateTooLargeError } from '../engine/state'
import type { HandoffIntent } from '../engine/evaluate'
import { HandoffContact, HandoffError, HandoffProgress, HandoffSender } from '../handoff/sender'
import type { HubSpotCalls, HubSpotRecord, UpsertInput } from '../hubspot/api'
import { claimCrossings, newToken, PendingHandoff, pendingHandoffs, retryCrossing, writePending } from './handoff-claims'
import { HANDOFF_CLAIM_PROPERTY, LAST_EVENT_PROPERTY, ObjectType, propertyTypes, sameValue, toHubSpotValue } from '../hubspot/properties'
import { HubSpotRequestError } from '../hubspot/transport'
import { chunks, PARTIAL_ATTEMPTS, RecordResult, writeInBatches, WriteItem } from '../hubspot/write'
import type { ContactSink, HandedBackContact } from './contact-sink'
import type { SettledSubject, StateStore, StoredRecord } from './state-store'

/**
 * What the pipeline and the sweep share after the batch step: hand-offs, the writes of what
 * changed (SPEC §4 steps 5 and 6) and associations.
 */

export type HandoffOutcome = { on: string; contact: string; sent: boolean; error?: string }

/** The outcome of one batch: a result per input event, in input order, and what else happened. */
export type SyncReport = {
  results: RecordResult[]
  handoffs: HandoffOutcome[]
  /** Things a person should know that failed no record: corrupt states, identity conflicts. */
  problems: string[]
  written: { contacts: number; companies: number }
  /** With a deferred contact sink: the contact writes the host delivers itself, in place of pqlkit. */
  contacts?: HandedBackContact[]
}

/** The parts a pipeline is made of (`createPipeline` wires them). */
export type PipelineParts = {
  api: HubSpotCalls
  model: Model
  store: StateStore
  sink: ContactSink
  /** Sends hand-offs; without it they are evaluated and marked, never sent. */
  sender?: HandoffSender
  /** Properties the portal has with an incompatible type (`contacts.plan`): left out of every write. */
  leftOut: Set<string>
}

/** A contact after the batch step, with its HubSpot record and identity. */
export type Contact = ContactOutcome & {
  record?: StoredRecord | HubSpotRecord
  userId?: string
  /** The record was found by userId and has no email yet: this batch gives it one. */
  claimEmail?: boolean
  /** This batch binds the userId to the contact (`pqlkit_user_id`). */
  bindUserId?: boolean
  failure?: RecordResult
  /** The record was created by this batch's write. */
  createdNow?: boolean
}

export type Company = CompanyOutcome & { record?: StoredRecord | HubSpotRecord; failure?: RecordResult }

/** An invalid result stands: a retry cannot fix it, so a later retryable failure does not replace it. */
export function recordFailure(report: SyncReport, index: number, result: RecordResult): void {
  if (report.results[index].status !== 'invalid') report.results[index] = result
}

/**
 * A hand-off to send: one the batch step decided, or a pending one sent again (`retry`), claimed
 * as its retry crossing (`claim`); its intent keeps the crossing, which marks its task.
 */
type Send = { intent: HandoffIntent; claim: string; retry?: PendingHandoff }

/** The contact's pending hand-offs whose hand-off the model still has, as intents; the others are dropped, named in the report. */
function retries(parts: PipelineParts, contact: Contact, pending: PendingHandoff[], report: SyncReport): Send[] {
  const sends: Send[] = []
  for (const entry of pending) {
    const handoff = parts.model.handoffs.find((candidate) => candidate.key === entry.key)
    if (!handoff) {
      report.problems.push(`pending hand-off "${entry.on}" for ${contact.email ?? contact.userId ?? contact.key} dropped: the model has no hand-off ${entry.key} any more`)
      continue
    }
    const { on, at, score, tier, reasons, crossing } = entry
    sends.push({ intent: { handoff, on, at, score, ...(tier === undefined ? {} : { tier }), reasons, crossing }, claim: retryCrossing(entry), retry: entry })
  }
  return sends
}

/** A failure trying again may get past: Slack's 5xx or 429 or no answer, HubSpot's after the transport's retries. */
function transient(error: unknown): boolean {
  return !(error instanceof HandoffError) || error.transient
}

/**
 * Sends the contacts' hand-offs, after their writes: each crossing is claimed first
 * (`claimCrossings`), and a crossing another worker claimed first is left to it (and not
 * reported here: its worker reports it). A hand-off whose Slack post or task failed
 * transiently is kept pending in the contact's claim, with the parts left, and sent by
 * whichever worker next processes the contact (claimed again, as a retry crossing). Returns
 * the contacts left with pending hand-offs this batch failed to send.
 */
export async function sendHandoffs(parts: PipelineParts, contacts: Contact[], report: SyncReport): Promise<Contact[]> {
  // An exclusive store's host (the server) has its own outbox, and without a sender nothing goes out.
  const keeps = parts.sender !== undefined && !parts.store.exclusive
  const work = contacts.flatMap((contact) => {
    if (contact.failure) return []
    const pending = keeps ? pendingHandoffs((contact.stored?.properties ?? contact.record?.properties)?.[HANDOFF_CLAIM_PROPERTY]) : []
    const sends: Send[] = [...contact.handoffs.map((intent) => ({ intent, claim: intent.crossing })), ...retries(parts, contact, pending, report)]
    return sends.length > 0 ? [{ contact, pending, sends }] : []
  })
  if (work.length === 0) return []
  // Without a sender nothing goes out, and an exclusive store has no concurrent writer: nothing to arbitrate.
  const lost = keeps
    ? await claimCrossings(parts.api, work.map(({ contact, pending, sends }) => ({ contact, crossings: sends.map(({ claim }) => claim), pending })), report)
    : new Map<Contact, Set<string>>()
  const updates: { id: string; pending: PendingHandoff[] }[] = []
  const failing: Contact[] = []
  for (const { contact, pending, sends } of work) {
    const left: PendingHandoff[] = []
    let failed = false
    for (const { intent, claim, retry } of sends) {
      if (lost.get(contact)?.has(claim)) continue
      const outcome: HandoffOutcome = { on: intent.on, contact: contact.email ?? contact.userId ?? contact.key, sent: false }
      report.handoffs.push(outcome)
      if (!parts.sender) continue
      // The properties as read: a write's answer carries only what it wrote.
      const who: HandoffContact = { id: contact.record?.id, properties: handoffProperties(contact.stored?.properties ?? contact.record?.properties, contact.email) }
      const landed = { slack: false, task: false }
      const progress: HandoffProgress = {
        // A task creation that got no answer is not repeated at once (HubSpot may have carried it
        // out) but kept pending: the retry looks for it by its mark before creating it.
        attemptedBefore: retry !== undefined,
        repeatUnanswered: !keeps,
        slackSent: retry !== undefined && !retry.slack,
        taskSent: retry !== undefined && !retry.task,
        slackLanded: async () => void (landed.slack = true),
        taskLanded: async () => void (landed.task = true)
      }
      try {
        await parts.sender.send(intent, who, progress)
        outcome.sent = true
      } catch (error) {
        outcome.error = (error as Error).message
        const keep = keeps && transient(error) && contact.record !== undefined
        report.problems.push(`hand-off "${intent.on}" for ${outcome.contact} failed: ${outcome.error}${keep ? '; kept pending, sent when the contact is next processed' : ''}`)
        if (keep) {
          failed = true
          const { handoff, on, at, score, tier, reasons } = intent
          left.push({
            key: handoff.key,
            crossing: intent.crossing,
            on,
            at,
            score,
            ...(tier === undefined ? {} : { tier }),
            reasons,
            slack: handoff.slack !== undefined && !progress.slackSent && !landed.slack,
            task: handoff.task !== undefined && !progress.taskSent && !landed.task,
            token: newToken()
          })
        }
      }
    }
    // Pending hand-offs another worker retries are its to keep; those this one tried are replaced by what is left of them.
    if (contact.record && (failed || sends.some(({ retry }) => retry !== undefined))) {
      const retried = new Set(sends.flatMap(({ retry }) => (retry ? [retry.token] : [])))
      updates.push({ id: contact.record.id, pending: [...pending.filter((entry) => !retried.has(entry.token)), ...left] })
    }
    if (failed) failing.push(contact)
  }
  if (updates.length > 0) await writePending(parts.api, updates, report)
  return failing
}

/** Only what changed, with the new state (SPEC §4 step 6); undefined when nothing did. */
function changes(parts: PipelineParts, objectType: ObjectType, subject: Contact | Company, who: string, report: SyncReport): Record<string, string> | undefined {
  const types = propertyTypes(parts.model, objectType)
  const stored = subject.record?.properties
  const next: Record<string, string> = {}
  for (const name of types.keys()) {
    if (name.startsWith('pqlkit_') || parts.leftOut.has(`${objectType}.${name}`)) continue
    const value = toHubSpotValue(subject.properties[name])
    if (!sameValue(types.get(name), stored?.[name], value)) next[name] = value
  }
  for (const [name, value] of Object.entries(subject.properties)) {
    if (!types.has(name) && stored?.[name] !== value) next[name] = String(value)
  }
  if (subject.lastEventAt !== undefined) {
    const storedAt = Date.parse(stored?.[LAST_EVENT_PROPERTY] ?? '')
    if (!(storedAt >= subject.lastEventAt)) next[LAST_EVENT_PROPERTY] = new Date(subject.lastEventAt).toISOString()
  }
  try {
    const events = 'attributed' in subject ? subject.attributed : subject.events.map(({ event }) => ({ event, contact: subject.key }))
    Object.assign(next, parts.store.stateProperties(objectType, { state: subject.state, events }, subject.record as StoredRecord | undefined))
  } catch (error) {
    if (!(error instanceof StateTooLargeError)) throw error
    subject.failure = { status: 'invalid', message: `${who}: ${error.message}` }
    report.problems.push(`${who}: ${error.message}`)
    return undefined
  }
  if (subject.record === undefined) for (const name of Object.keys(next)) if (next[name] === '') delete next[name]
  return Object.keys(next).length > 0 ? next : undefined
}

export async function writeCompanies(parts: PipelineParts, companies: Company[], report: SyncReport): Promise<void> {
  const items: WriteItem<UpsertInput>[] = []
  for (const company of companies) {
    if (company.failure) continue
    const properties = changes(parts, 'companies', company, `company ${company.key}`, report)
    if (!properties) continue
    items.push({
      input: { idProperty: 'pqlkit_company_key', id: company.key, properties },
      ids: [company.key, ...(company.record ? [company.record.id] : [])],
      matches: (record) => record.properties.pqlkit_company_key === company.key,
      done: (record) => {
        company.record = record ?? company.record
        report.written.companies++
      },
      failed: (result) => (company.failure = result)
    })
  }
  await writeInBatches(items, (inputs) => parts.api.batchUpsert('companies', inputs))
}

export async function writeContacts(parts: PipelineParts, contacts: Contact[], report: SyncReport): Promise<void> {
  const writes = []
  for (const contact of contacts) {
    if (contact.failure) continue
    const properties = changes(parts, 'contacts', contact, `contact ${contact.email ?? contact.userId}`, report)
    const identity: Record<string, string> = {}
    if (contact.claimEmail && contact.email) identity.email = contact.email
    if (contact.bindUserId && contact.userId) identity.pqlkit_user_id = contact.userId
    if (!properties && Object.keys(identity).length === 0) continue
    writes.push({
      email: contact.email,
      userId: contact.userId,
      recordId: contact.record?.id,
      claimEmail: contact.claimEmail,
      events: contact.events,
      properties: { ...properties, ...identity },
      done: (record: HubSpotRecord | undefined) => {
        if (!contact.record) contact.createdNow = true
        contact.record = record ?? contact.record
        report.written.contacts++
      },
      failed: (result: RecordResult) => (contact.failure = result)
    })
  }
  const handedBack = await parts.sink.write(writes)
  report.contacts?.push(...handedBack)
}

type Pair = { contact: Contact; key: string; companyId: string }

/** The contacts whose company is stored and that are not yet associated to it. */
function associations(contacts: Contact[], companies: Map<string, Company>): Pair[] {
  const pairs: Pair[] = []
  for (const contact of contacts) {
    const key = contact.association
    if (contact.failure || key === undefined || contact.state.associatedCompany === key) continue
    const company = companies.get(key)
    if (!company?.record || company.failure) continue
    pairs.push({ contact, key, companyId: company.record.id })
  }
  return pairs
}

/** Marks new contacts (no id before their write) with their company: the write carries the mark and the association follows. */
export function markNewContacts(contacts: Contact[], companies: Map<string, Company>): void {
  for (const { contact, key } of associations(contacts.filter((contact) => !contact.record), companies)) contact.state.associatedCompany = key
}

/**
 * SPEC §2: a contact with a company is associated to it once, marked in its state. An
 * existing contact is associated before its write, which carries the mark. A contact this
 * batch created was marked before its write; if its association fails, the mark is taken
 * back so that it is tried again. Returns the contacts whose association HubSpot failed
 * for now (throttled, 5xx, or a 207 after PARTIAL_ATTEMPTS): their events are to be sent
 * again, or a contact with no later event would never be associated.
 */
export async function associate(parts: PipelineParts, contacts: Contact[], companies: Map<string, Company>, report: SyncReport): Promise<Contact[]> {
  const created = contacts.filter((contact) => contact.createdNow)
  for (const contact of created) if (contact.state.associatedCompany !== undefined) delete contact.state.associatedCompany
  const unmarked: Contact[] = []
  const postponed: Contact[] = []
  let pending = associations(contacts.filter((contact) => contact.record), companies)
  // Pairs a 207 failed are tried again at once, like records (PARTIAL_ATTEMPTS in all).
  for (let attempt = 1; attempt <= PARTIAL_ATTEMPTS && pending.length > 0; attempt++) {
    const again: Pair[] = []
    for (const chunk of chunks(pending)) {
      let failed: Set<string>
      try {
        const { errors } = await parts.api.associate(chunk.map(({ contact, companyId }) => ({ contactId: contact.record!.id, companyId })))
        failed = new Set(errors.flatMap((error) => Object.values(error.context ?? {}).flat()))
        if (attempt === PARTIAL_ATTEMPTS) for (const error of errors) report.problems.push(`association: ${error.message}`)
      } catch (error) {
        if (!(error instanceof RetryableError) && !(error instanceof HubSpotRequestError && error.status === 400)) throw error
        report.problems.push(`association of ${chunk.length} contacts postponed: ${error.message}`)
        for (const { contact } of chunk) if (contact.createdNow) unmarked.push(contact)
        if (error instanceof RetryableError) postponed.push(...chunk.map(({ contact }) => contact))
        continue
      }
      for (const pair of chunk) {
        if (!failed.has(pair.contact.record!.id) && !failed.has(pair.companyId)) pair.contact.state.associatedCompany = pair.key
        else if (attempt < PARTIAL_ATTEMPTS) again.push(pair)
        else {
          if (pair.contact.createdNow) unmarked.push(pair.contact)
          postponed.push(pair.contact)
        }
      }
    }
    pending = again
  }
  if (unmarked.length > 0) await writeContacts(parts, unmarked, report)
  return postponed
}

/** A store that keeps states itself (the server's database) is given every subject after the writes. */
export function settleSubjects(parts: PipelineParts, contacts: Contact[], companies: Company[]): void {
  if (!parts.store.settle) return
  const settled = (objectType: ObjectType, subject: Contact | Company): SettledSubject => ({
    objectType,
    key: subject.key,
    ...('userId' in subject ? { email: subject.email, userId: subject.userId } : {}),
    record: subject.record,
    state: subject.state,
    properties: subject.properties,
    lastEventAt: subject.lastEventAt,
    events: subject.events.map(({ index }) => index),
    failed: subject.failure !== undefined
  })
  parts.store.settle([...contacts.map((contact) => settled('contacts', contact)), ...companies.map((company) => settled('companies', company))])
}
