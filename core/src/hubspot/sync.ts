import type { Model } from '../model/compile'
import { HANDOFF_PROPERTIES } from '../model/compile'
import { AttributedEvent, applyEvents } from '../engine/aggregate'
import { attributeToCompanies } from '../engine/company'
import { RetryableError, ValidationError } from '../engine/errors'
import { evaluateContact, evaluateSection, Evaluation, HandoffIntent, PropertyValue } from '../engine/evaluate'
import { ProductEvent, ValidEvent, validateEvent } from '../engine/event'
import { companyInfo } from '../engine/simulate'
import { decodeState, encodeState, StateTooLargeError, SubjectState } from '../engine/state'
import type { HandoffContact, HandoffSender } from '../handoff/sender'
import { bootstrap, BootstrapReport } from './bootstrap'
import type { HubSpotCalls, HubSpotRecord, UpsertInput } from './api'
import { LAST_EVENT_PROPERTY, modelProperties, ObjectType, propertyTypes, sameValue, toHubSpotValue } from './properties'
import { HubSpotRequestError } from './transport'
import { KeyedLock } from './keyed-lock'
import { chunks, PARTIAL_ATTEMPTS, RecordResult, writeInBatches, WriteItem } from './write'

export type { RecordResult } from './write'

export type HandoffOutcome = { on: string; contact: string; sent: boolean; error?: string }

export type SweepReport = { examined: number; changed: number; handoffs: HandoffOutcome[]; problems: string[] }

export type SweepOptions = {
  /** Subjects whose last activity is older than this are left alone (default 180 days). */
  horizonDays?: number
  onPage?: (examined: number, total: number) => void
  /** HubSpot's search allows 5 requests per second (SPEC §7); the sweep keeps under it. */
  sleep?: (ms: number) => Promise<void>
}

const SEARCH_INTERVAL_MS = 220
const SEARCH_PAGE = 100

/** The outcome of one batch: a result per input event, in input order, and what else happened. */
export type SyncReport = {
  results: RecordResult[]
  handoffs: HandoffOutcome[]
  /** Things a person should know that failed no record: corrupt states, identity conflicts. */
  problems: string[]
  written: { contacts: number; companies: number }
  /** With `handBackContacts`: the contact writes the host delivers itself, in place of pqlkit. */
  contacts?: HandedBackContact[]
}

/** A contact write handed back to the host: the properties that changed (absolute values, new state included). */
export type HandedBackContact = {
  email: string
  properties: Record<string, string>
  /** The input indexes of the batch's events for this contact. */
  events: number[]
}

export type SyncOptions = {
  /** Sends hand-offs; without it they are evaluated and marked, never sent. */
  sender?: HandoffSender
  /**
   * Contacts known by email are not written but handed back in `SyncReport.contacts`, for a
   * host whose own HubSpot destination upserts them by email (RudderStack). Companies,
   * associations of existing contacts and hand-offs still go out here; a contact the host
   * will create is associated by its next batch, and its hand-off tasks cannot be created
   * (no id yet: reported in `problems`). Hand-offs wait for pqlkit's own writes and go only
   * for contacts with an event that succeeded, the events the host's write rides on.
   * `sweep` always writes.
   */
  handBackContacts?: boolean
}

type Indexed = { index: number; event: ValidEvent }

type Subject = {
  key: string
  events: Indexed[]
  record?: HubSpotRecord
  state?: SubjectState
  evaluation?: Evaluation
  failure?: RecordResult
  /** The latest time of the events this batch applied to the subject. */
  lastEventAt?: number
}
type Contact = Subject & {
  email?: string
  userId?: string
  /** The record was found by userId and has no email yet: this batch gives it one. */
  claimEmail?: boolean
  /** The userId is on another email's contact: not written here (it is unique). */
  userIdTaken?: boolean
  /** The record was created by this batch's write. */
  createdNow?: boolean
}
type Company = Subject & { attributed: AttributedEvent[] }

const CONTACT_INTERNALS = ['pqlkit_state', 'pqlkit_user_id', ...HANDOFF_PROPERTIES]
const COMPANY_INTERNALS = ['pqlkit_state', 'pqlkit_company_key', 'name', 'domain']

/**
 * The batch pipeline of SPEC §4: group by subject, batch-read states, apply in the core,
 * evaluate at `now`, send hand-offs, batch-upsert only what changed. One instance per model
 * and process; hosts call `process` per batch and report `results` their own way.
 *
 * HubSpot has no conditional write: two workers writing the same subject at once can lose
 * an update. Within a batch subjects are grouped; concurrent batches on one instance wait
 * for each other per subject (contacts first, then companies, so they cannot deadlock).
 */
export class HubSpotSync {
  private bootstrapped: Promise<BootstrapReport> | undefined
  private readonly locks = new KeyedLock()

  constructor(
    readonly api: HubSpotCalls,
    readonly model: Model,
    private readonly options: SyncOptions = {}
  ) {}

  /** Creates the property groups and properties the model needs; once per process unless asked again. */
  bootstrap(force = false): Promise<BootstrapReport> {
    if (!this.bootstrapped || force) {
      this.bootstrapped = bootstrap(this.api, this.model)
      this.bootstrapped.catch(() => (this.bootstrapped = undefined))
    }
    return this.bootstrapped
  }

  async process(events: ProductEvent[], now: number): Promise<SyncReport> {
    const report: SyncReport = {
      results: events.map((): RecordResult => ({ status: 'ok' })),
      handoffs: [],
      problems: [],
      written: { contacts: 0, companies: 0 },
      ...(this.options.handBackContacts ? { contacts: [] } : {})
    }
    try {
      await this.bootstrap()
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error
      const result = readFailure(error)
      report.results = events.map(() => result)
      return report
    }
    const fail = (index: number, result: RecordResult) => recordFailure(report, index, result)
    const valid: Indexed[] = []
    events.forEach((event, index) => {
      try {
        valid.push({ index, event: validateEvent(event, now) })
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error
        fail(index, { status: 'invalid', message: error.message })
      }
    })
    if (valid.length === 0) return report

    const releases: (() => void)[] = []
    try {
      releases.push(
        await this.locks.acquire(
          valid.flatMap(({ event }) => [
            ...(event.email ? [`contact:${event.email}`] : []),
            ...(event.userId ? [`user:${event.userId}`] : [])
          ])
        )
      )
      await this.processLocked(valid, now, report, async (keys) => {
        releases.push(await this.locks.acquire(keys))
      })
    } finally {
      for (const release of releases) release()
    }
    return report
  }

  private async processLocked(
    valid: Indexed[],
    now: number,
    report: SyncReport,
    lockCompanies: (keys: string[]) => Promise<void>
  ): Promise<void> {
    const fail = (index: number, result: RecordResult) => recordFailure(report, index, result)
    const contacts = await this.loadContacts(valid, report)
    const companies = new Map<string, Company>()
    const indexOf = new Map(valid.map((item) => [item.event, item.index]))
    for (const contact of contacts) {
      if (contact.failure) continue
      contact.state = this.decode(contact.record, `contact ${contact.email ?? contact.userId}`, report)
      const applied = applyEvents(
        this.model.contact,
        contact.state,
        contact.events.map(({ event }) => ({ event, contact: contact.key })),
        now
      )
      for (const { event, error } of applied.rejected) fail(indexOf.get(event)!, { status: 'invalid', message: error.message })
      // A contact none of whose events could be applied is not created for nothing.
      if (applied.accepted.length === 0 && !contact.record) {
        contact.state = undefined
        continue
      }
      contact.lastEventAt = latest(applied.accepted)
      for (const [key, attributed] of attributeToCompanies(this.model, contact.state, contact.key, contact.email, applied.accepted)) {
        const company = companies.get(key) ?? { key, events: [], attributed: [] }
        company.attributed.push(...attributed)
        company.events.push(...attributed.map(({ event }) => ({ index: indexOf.get(event)!, event })))
        companies.set(key, company)
      }
    }

    if (this.model.company && companies.size > 0) {
      await lockCompanies([...companies.keys()].map((key) => `company:${key}`))
      await this.read('companies', 'pqlkit_company_key', [...companies.values()], (company) => company.key, COMPANY_INTERNALS)
      for (const company of companies.values()) {
        if (company.failure) continue
        company.state = this.decode(company.record, `company ${company.key}`, report)
        const applied = applyEvents(this.model.company, company.state, company.attributed, now)
        for (const { event, error } of applied.rejected) fail(indexOf.get(event)!, { status: 'invalid', message: error.message })
        company.lastEventAt = latest(applied.accepted)
        company.evaluation = { ...evaluateSection(this.model.company, company.state, now), handoffs: [] }
      }
    }
    for (const contact of contacts) {
      if (contact.failure || !contact.state) continue
      contact.evaluation = evaluateContact(this.model, contact.state, now, this.handoffProperties(contact))
    }

    // SPEC §4 step 5: hand-offs go out before the write, so a failed write means at-least-once.
    // A brand-new contact has no HubSpot id for its task until it is written: its go after.
    // Handing contacts back, the write is the host's, after this batch, and carried only by
    // events that succeed: hand-offs wait for pqlkit's own writes and go only for contacts
    // with such an event, or an event failed for its company would send them again.
    const handingBack = report.contacts !== undefined
    const existing = contacts.filter((contact) => contact.record)
    if (!handingBack) await this.sendHandoffs(existing, report)
    await this.writeCompanies([...companies.values()], report)
    await this.associate(existing, companies, report)
    // A contact the host creates gets no mark: its next batch, with the record, associates it.
    const fresh = report.contacts ? [] : this.associations(contacts.filter((contact) => !contact.record), companies)
    for (const { contact, key } of fresh) contact.state!.associatedCompany = key
    await this.writeContacts(contacts, report)
    const created = contacts.filter((contact) => contact.createdNow)
    await this.associate(created, companies, report)

    for (const subject of [...contacts, ...companies.values()]) {
      if (subject.failure) for (const { index } of subject.events) fail(index, subject.failure)
    }
    const succeeded = (contact: Contact) => contact.events.some(({ index }) => report.results[index].status === 'ok')
    await this.sendHandoffs(contacts.filter((contact) => (handingBack ? succeeded(contact) : contact.createdNow)), report)
  }

  /**
   * SPEC §4: time-based values (windows, decay, days_since) go stale without events. Finds
   * the subjects active within the horizon with HubSpot search (by `pqlkit_last_event_at`),
   * re-evaluates them as of `now` and writes only what changed.
   */
  async sweep(now: number, options: SweepOptions = {}): Promise<SweepReport> {
    await this.bootstrap()
    const report: SweepReport & SyncReport = {
      examined: 0,
      changed: 0,
      handoffs: [],
      problems: [],
      results: [],
      written: { contacts: 0, companies: 0 }
    }
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
    const since = now - (options.horizonDays ?? 180) * 86_400_000
    for (const objectType of ['contacts', 'companies'] as const) {
      const section = objectType === 'contacts' ? this.model.contact : this.model.company
      if (!section) continue
      // Subjects written before pqlkit kept their last event time are found by their last_seen signals.
      const activity = [LAST_EVENT_PROPERTY, ...section.signals.filter((signal) => signal.kind === 'last_seen').map((signal) => signal.name)].slice(0, 5)
      const internals = objectType === 'contacts' ? CONTACT_INTERNALS : COMPANY_INTERNALS
      const properties = [...new Set([...modelProperties(this.model, objectType).map((p) => p.name), ...internals])]
      let lastId = '0'
      for (;;) {
        const page = await this.api.search(objectType, {
          filterGroups: activity.map((name) => ({
            filters: [
              { propertyName: name, operator: 'GTE', value: String(since) },
              { propertyName: 'hs_object_id', operator: 'GT', value: lastId }
            ]
          })),
          properties,
          sorts: ['hs_object_id'],
          limit: SEARCH_PAGE
        })
        if (page.results.length === 0) break
        lastId = page.results[page.results.length - 1].id
        report.examined += page.results.length
        const before = report.written.contacts + report.written.companies
        if (objectType === 'contacts') {
          const contacts: Contact[] = page.results.map((record) => {
            const email = record.properties.email?.toLowerCase() || undefined
            const contact: Contact = { key: email ?? `id:${record.id}`, email, record, events: [] }
            contact.state = this.decode(record, `contact ${email ?? record.id}`, report)
            contact.evaluation = evaluateContact(this.model, contact.state, now, this.handoffProperties(contact))
            return contact
          })
          await this.sendHandoffs(contacts, report)
          await this.writeContacts(contacts, report)
        } else {
          const companies: Company[] = page.results
            .filter((record) => record.properties.pqlkit_company_key)
            .map((record) => {
              const company: Company = { key: record.properties.pqlkit_company_key!, record, events: [], attributed: [] }
              company.state = this.decode(record, `company ${company.key}`, report)
              company.evaluation = { ...evaluateSection(section, company.state, now), handoffs: [] }
              return company
            })
          await this.writeCompanies(companies, report)
        }
        report.changed += report.written.contacts + report.written.companies - before
        options.onPage?.(report.examined, page.total)
        if (page.results.length < SEARCH_PAGE) break
        await sleep(SEARCH_INTERVAL_MS)
      }
    }
    return { examined: report.examined, changed: report.changed, handoffs: report.handoffs, problems: report.problems }
  }

  private async sendHandoffs(contacts: Contact[], report: SyncReport): Promise<void> {
    for (const contact of contacts) {
      for (const intent of contact.evaluation?.handoffs ?? []) {
        const outcome: HandoffOutcome = { on: intent.on, contact: contact.email ?? contact.userId ?? contact.key, sent: false }
        report.handoffs.push(outcome)
        if (!this.options.sender) continue
        const who: HandoffContact = { id: contact.record?.id, properties: this.handoffProperties(contact) }
        try {
          await this.options.sender.send(intent, who)
          outcome.sent = true
        } catch (error) {
          outcome.error = (error as Error).message
          report.problems.push(`hand-off "${intent.on}" for ${outcome.contact} failed: ${outcome.error}`)
        }
      }
    }
  }

  /** The contacts whose company is known and stored, and that are not yet associated to it. */
  private associations(contacts: Contact[], companies: Map<string, Company>): { contact: Contact; key: string; companyId: string }[] {
    const pairs: { contact: Contact; key: string; companyId: string }[] = []
    for (const contact of contacts) {
      const key = contact.state?.lastCompany?.[0]
      if (contact.failure || !contact.state || key === undefined || contact.state.associatedCompany === key) continue
      const company = companies.get(key)
      if (!company?.record || company.failure) continue
      pairs.push({ contact, key, companyId: company.record.id })
    }
    return pairs
  }

  /**
   * SPEC §2: a contact with a company is associated to it once, marked in its state. An
   * existing contact is associated before its write, which carries the mark. A contact this
   * batch creates has no id before its write: the write carries the mark and the association
   * follows; if that fails, the mark is taken back so its next batch tries again.
   */
  private async associate(contacts: Contact[], companies: Map<string, Company>, report: SyncReport): Promise<void> {
    const created = contacts.filter((contact) => contact.createdNow)
    for (const contact of created) if (contact.state?.associatedCompany !== undefined) delete contact.state.associatedCompany
    const unmarked: Contact[] = []
    type Pair = { contact: Contact; key: string; companyId: string }
    let pending: Pair[] = this.associations(contacts.filter((contact) => contact.record), companies)
    // Pairs a 207 failed are tried again at once, like records (PARTIAL_ATTEMPTS in all).
    for (let attempt = 1; attempt <= PARTIAL_ATTEMPTS && pending.length > 0; attempt++) {
      const again: Pair[] = []
      for (const chunk of chunks(pending)) {
        let failed: Set<string>
        try {
          const { errors } = await this.api.associate(chunk.map(({ contact, companyId }) => ({ contactId: contact.record!.id, companyId })))
          failed = new Set(errors.flatMap((error) => Object.values(error.context ?? {}).flat()))
          if (attempt === PARTIAL_ATTEMPTS) for (const error of errors) report.problems.push(`association: ${error.message}`)
        } catch (error) {
          if (!(error instanceof RetryableError) && !(error instanceof HubSpotRequestError && error.status === 400)) throw error
          report.problems.push(`association of ${chunk.length} contacts postponed to their next batch: ${error.message}`)
          for (const { contact } of chunk) if (contact.createdNow) unmarked.push(contact)
          continue
        }
        for (const pair of chunk) {
          if (!failed.has(pair.contact.record!.id) && !failed.has(pair.companyId)) pair.contact.state!.associatedCompany = pair.key
          else if (attempt < PARTIAL_ATTEMPTS) again.push(pair)
          else if (pair.contact.createdNow) unmarked.push(pair.contact)
        }
      }
      pending = again
    }
    if (unmarked.length > 0) await this.writeContacts(unmarked, report)
  }

  private decode(record: HubSpotRecord | undefined, who: string, report: SyncReport): SubjectState {
    const { state, problem } = decodeState(record?.properties.pqlkit_state)
    if (problem) report.problems.push(`${who}: ${problem}`)
    return state
  }

  private handoffProperties(contact: Contact): Record<string, string | undefined> {
    const properties: Record<string, string | undefined> = {}
    for (const name of HANDOFF_PROPERTIES) properties[name] = contact.record?.properties[name] ?? undefined
    properties.email = contact.email ?? properties.email
    return properties
  }

  /**
   * SPEC §2 identity: contacts by email; an event with only a userId through `pqlkit_user_id`,
   * which every event carrying both sets. A contact first known by userId only gets its
   * email when one arrives; a userId already on another email's contact is left there.
   */
  private async loadContacts(valid: Indexed[], report: SyncReport): Promise<Contact[]> {
    const emailOf = new Map<string, string>()
    for (const { event } of valid) if (event.email && event.userId) emailOf.set(event.userId, event.email)
    const byKey = new Map<string, Contact>()
    for (const item of valid) {
      const email = item.event.email ?? emailOf.get(item.event.userId!)
      const key = email ?? `user:${item.event.userId}`
      const contact = byKey.get(key) ?? { key, email, events: [] }
      contact.userId ??= item.event.userId
      contact.events.push(item)
      byKey.set(key, contact)
    }
    const contacts = [...byKey.values()]
    const withEmail = contacts.filter((contact) => contact.email)
    await this.read('contacts', 'email', withEmail, (contact) => contact.email!, CONTACT_INTERNALS)

    // Every contact with a userId that its record does not already carry: is that userId on another record?
    const byUserId = contacts.filter(
      (contact) => !contact.failure && contact.userId && contact.record?.properties.pqlkit_user_id !== contact.userId
    )
    const found = await this.readRecords('contacts', 'pqlkit_user_id', byUserId, (contact) => contact.userId!, CONTACT_INTERNALS)
    for (const contact of byUserId) {
      const record = found.get(contact.userId!)
      if (!record || record.id === contact.record?.id) continue
      const recordEmail = record.properties.email?.toLowerCase() || undefined
      if (contact.email === undefined) {
        // A userId-only event: the contact is the record that userId is on.
        const target = recordEmail === undefined ? undefined : byKey.get(recordEmail)
        byKey.delete(contact.key)
        if (target) {
          target.events.push(...contact.events)
          continue
        }
        Object.assign(contact, { key: recordEmail ?? contact.key, email: recordEmail, record })
        byKey.set(contact.key, contact)
      } else if (contact.record === undefined && recordEmail === undefined) {
        // A contact known so far by userId only gets its email: same record.
        Object.assign(contact, { record, claimEmail: true })
      } else {
        contact.userIdTaken = true
        report.problems.push(
          `userId ${contact.userId} is on HubSpot contact ${record.id}, not on ${contact.email}'s: pqlkit never merges contacts (merge them in HubSpot)`
        )
      }
    }
    return [...byKey.values()]
  }

  private async readRecords<S extends Subject>(
    objectType: ObjectType,
    idProperty: string,
    subjects: S[],
    idOf: (subject: S) => string,
    internals: string[]
  ): Promise<Map<string, HubSpotRecord>> {
    const properties = [...new Set([...modelProperties(this.model, objectType).map((p) => p.name), ...internals])]
    const found = new Map<string, HubSpotRecord>()
    const key = (id: string) => (idProperty === 'email' ? id.toLowerCase() : id)
    const failWith = (ids: string[], failure: RecordResult) => {
      const named = new Set(ids.map(key))
      for (const subject of subjects) if (named.has(key(idOf(subject)))) subject.failure = failure
    }
    for (const chunk of chunks([...new Set(subjects.map(idOf))])) {
      // A 207's OBJECT_NOT_FOUND means "new"; any other error means "unknown": such an id
      // is read again, and never taken for new (its upsert would overwrite what is stored).
      let pending = chunk
      for (let attempt = 1; pending.length > 0; attempt++) {
        let unread: string[]
        let message = ''
        try {
          const result = await this.api.batchRead(objectType, idProperty, pending, properties)
          for (const record of result.results) {
            const id = record.properties[idProperty]
            if (id) found.set(key(id), record)
          }
          const failed = result.errors.filter((error) => error.category !== 'OBJECT_NOT_FOUND')
          const named = new Set(failed.flatMap((error) => Object.values(error.context ?? {}).flat().map((id) => key(String(id)))))
          unread = failed.some((error) => !error.context) ? pending.filter((id) => !found.has(key(id))) : pending.filter((id) => named.has(key(id)))
          message = failed[0]?.message ?? ''
        } catch (error) {
          failWith(pending, readFailure(error))
          break
        }
        if (unread.length > 0 && attempt >= PARTIAL_ATTEMPTS) {
          failWith(unread, { status: 'retryable', message: `HubSpot could not read ${objectType}: ${message}`, retryAfterMs: 1_000 })
          break
        }
        pending = unread
      }
    }
    return found
  }

  private async read<S extends Subject>(
    objectType: ObjectType,
    idProperty: string,
    subjects: S[],
    idOf: (subject: S) => string,
    internals: string[]
  ): Promise<void> {
    const found = await this.readRecords(objectType, idProperty, subjects, idOf, internals)
    for (const subject of subjects) subject.record ??= found.get(idOf(subject))
  }

  /** Only what changed, with the new state (SPEC §4 step 6). */
  private changes(
    objectType: ObjectType,
    subject: Subject,
    properties: Record<string, PropertyValue>,
    who: string,
    report: SyncReport
  ): Record<string, string> | undefined {
    const types = propertyTypes(this.model, objectType)
    const next: Record<string, string> = {}
    for (const name of types.keys()) {
      if (name.startsWith('pqlkit_')) continue
      const value = toHubSpotValue(properties[name])
      if (!sameValue(types.get(name), subject.record?.properties[name], value)) next[name] = value
    }
    for (const [name, value] of Object.entries(properties)) {
      if (!types.has(name) && subject.record?.properties[name] !== value) next[name] = String(value)
    }
    if (subject.lastEventAt !== undefined) {
      const stored = Date.parse(subject.record?.properties[LAST_EVENT_PROPERTY] ?? '')
      if (!(stored >= subject.lastEventAt)) next[LAST_EVENT_PROPERTY] = new Date(subject.lastEventAt).toISOString()
    }
    try {
      const state = encodeState(subject.state!)
      if (subject.record?.properties.pqlkit_state !== state) next.pqlkit_state = state
    } catch (error) {
      if (!(error instanceof StateTooLargeError)) throw error
      subject.failure = { status: 'invalid', message: `${who}: ${error.message}` }
      report.problems.push(`${who}: ${error.message}`)
      return undefined
    }
    if (subject.record === undefined) for (const name of Object.keys(next)) if (next[name] === '') delete next[name]
    return Object.keys(next).length > 0 ? next : undefined
  }

  private async writeCompanies(companies: Company[], report: SyncReport): Promise<void> {
    const items: WriteItem<UpsertInput>[] = []
    for (const company of companies) {
      if (company.failure || !company.evaluation) continue
      const properties = this.changes(
        'companies',
        company,
        { ...companyInfo(company.state!), ...company.evaluation.properties },
        `company ${company.key}`,
        report
      )
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
    await writeInBatches(items, (inputs) => this.api.batchUpsert('companies', inputs))
  }

  private async writeContacts(contacts: Contact[], report: SyncReport): Promise<void> {
    const updates: WriteItem<{ id: string; properties: Record<string, string> }>[] = []
    const upserts = new Map<string, WriteItem<UpsertInput>[]>()
    for (const contact of contacts) {
      if (contact.failure || !contact.evaluation) continue
      const who = `contact ${contact.email ?? contact.userId}`
      const properties = this.changes('contacts', contact, contact.evaluation.properties, who, report)
      const identity: Record<string, string> = {}
      if (contact.claimEmail && contact.email) identity.email = contact.email
      if (contact.userId && !contact.userIdTaken && contact.record?.properties.pqlkit_user_id !== contact.userId) {
        identity.pqlkit_user_id = contact.userId
      }
      if (!properties && Object.keys(identity).length === 0) continue
      const all = { ...properties, ...identity }
      // A record found by userId without an email is updated here: an upsert by email would create another.
      if (report.contacts && contact.email && !contact.claimEmail) {
        report.contacts.push({ email: contact.email, properties: all, events: contact.events.map(({ index }) => index) })
        continue
      }
      const done = (record: HubSpotRecord | undefined) => {
        if (!contact.record) contact.createdNow = true
        contact.record = record ?? contact.record
        report.written.contacts++
      }
      const failed = (result: RecordResult) => (contact.failure = result)
      if (contact.record) {
        const id = contact.record.id
        updates.push({ input: { id, properties: all }, ids: [id, contact.email ?? ''], matches: (r) => r.id === id, done, failed })
      } else {
        const idProperty = contact.email ? 'email' : 'pqlkit_user_id'
        const id = contact.email ?? contact.userId!
        const list = upserts.get(idProperty) ?? []
        list.push({
          input: { idProperty, id, properties: all },
          ids: [id],
          matches: (record) => (record.properties[idProperty] ?? '').toLowerCase() === id.toLowerCase(),
          done,
          failed
        })
        upserts.set(idProperty, list)
      }
    }
    await writeInBatches(updates, (inputs) => this.api.batchUpdate('contacts', inputs))
    for (const items of upserts.values()) await writeInBatches(items, (inputs) => this.api.batchUpsert('contacts', inputs))
  }
}

function latest(events: { at: number }[]): number | undefined {
  return events.length === 0 ? undefined : Math.max(...events.map((event) => event.at))
}

/** An invalid result stands: a retry cannot fix it, so a later retryable failure does not replace it. */
function recordFailure(report: SyncReport, index: number, result: RecordResult): void {
  if (report.results[index].status !== 'invalid') report.results[index] = result
}

function readFailure(error: unknown): RecordResult {
  if (error instanceof RetryableError) {
    return { status: 'retryable', message: error.message, retryAfterMs: error.retryAfterMs, throttled: error.throttled }
  }
  if (error instanceof HubSpotRequestError && error.status !== 401 && error.status !== 403) {
    return { status: 'invalid', message: error.message }
  }
  throw error
}
