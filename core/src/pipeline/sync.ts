import type { Model } from '../model/compile'
import { applyToContacts, finishBatch, IndexedEvent, StoredSubject } from '../engine/batch'
import { RetryableError, ValidationError } from '../engine/errors'
import { compareReplayOrder, ProductEvent, validateEvent } from '../engine/event'
import { Identities, Person } from '../engine/identity'
import type { HubSpotCalls } from '../hubspot/api'
import type { ObjectType } from '../hubspot/properties'
import { bootstrap, BootstrapReport, describeIncompatible } from '../hubspot/bootstrap'
import { readFailure } from '../hubspot/records'
import type { RecordResult } from '../hubspot/write'
import { KeyedLock } from './keyed-lock'
import type { StoredRecord } from './state-store'
import { sweep, SweepOptions, SweepReport, sweepRecords } from './sweep'
import {
  associate,
  Company,
  Contact,
  markNewContacts,
  PipelineParts,
  recordFailure,
  sendHandoffs,
  settleSubjects,
  SyncReport,
  writeCompanies,
  writeContacts
} from './write-back'

export type { RecordResult } from '../hubspot/write'

/** How often a batch's events whose write met a 409 or a drifted portal are processed, in all. */
const AGAIN_ROUNDS = 3

/** A contact before the batch step: who it is, its record, its events. */
type Resolved = { person: Person; key: string; record?: StoredRecord; events: IndexedEvent[]; failure?: RecordResult }

/**
 * The batch pipeline of SPEC §4, the imperative shell around the pure batch step: validate,
 * lock, read, step, hand-offs, write. One instance per model and process (`createPipeline`);
 * hosts call `process` per batch and report `results` their own way.
 *
 * Within a batch subjects are grouped; concurrent batches on one instance wait for each
 * other per subject (contacts first, then companies, so they cannot deadlock). Across
 * workers HubSpot has no conditional write: each write carries its contribution and each
 * read repairs what another worker overwrote (`state-store.ts`), and hand-offs are claimed
 * before they are sent (`handoff-claims.ts`).
 */
export class Pipeline {
  private bootstrapped: Promise<BootstrapReport> | undefined
  /** The incompatible properties, as every batch reports them. */
  private incompatible: string[] = []

  /** `locks`: shared by the pipelines of one destination whose model grows (a destination whose mappings arrive with their events). */
  constructor(
    private readonly parts: PipelineParts,
    private readonly locks = new KeyedLock()
  ) {}

  get api(): HubSpotCalls {
    return this.parts.api
  }

  get model(): Model {
    return this.parts.model
  }

  /**
   * Reconciles the portal with the model (creates what is missing, tier options, names what
   * is incompatible); once per process unless asked again, as a drifted portal does.
   * `retireUnused`: drop old tier options no record holds (a search each: the CLI's choice).
   */
  bootstrap(force = false, options: { retireUnused?: boolean } = {}): Promise<BootstrapReport> {
    if (!this.bootstrapped || force) {
      const run = bootstrap(this.parts.api, this.parts.model, options)
      this.bootstrapped = run
      run.then(
        (report) => {
          this.parts.leftOut.clear()
          for (const { objectType, name } of report.incompatible) this.parts.leftOut.add(`${objectType}.${name}`)
          this.incompatible = report.incompatible.map(describeIncompatible)
        },
        () => (this.bootstrapped = undefined)
      )
    }
    return this.bootstrapped
  }

  async process(events: ProductEvent[], now: number): Promise<SyncReport> {
    const report: SyncReport = {
      results: events.map((): RecordResult => ({ status: 'ok' })),
      handoffs: [],
      problems: [],
      written: { contacts: 0, companies: 0 },
      ...(this.parts.sink.deferred ? { contacts: [] } : {})
    }
    try {
      await this.bootstrap()
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error
      const result = readFailure(error)
      report.results = events.map(() => result)
      return report
    }
    const valid: IndexedEvent[] = []
    events.forEach((event, index) => {
      try {
        valid.push({ index, event: validateEvent(event, now) })
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error
        recordFailure(report, index, { status: 'invalid', message: error.message })
      }
    })
    if (valid.length === 0) return report

    const releases: (() => void)[] = []
    try {
      const identityKeys = valid.flatMap(({ event }) => [
        ...(event.email ? [`contact:${event.email}`] : []),
        ...(event.userId ? [`user:${event.userId}`] : [])
      ])
      releases.push(await this.locks.acquire(identityKeys))
      // A unique value another record took since it was read (a 409), or a portal whose
      // properties changed under pqlkit (reconciled first, once): those events go again at
      // once, read afresh. Neither is ever reported invalid.
      let pending = valid
      let reconciled = false
      for (let round = 1; pending.length > 0; round++) {
        // Company locks are taken per round and given back after it, so a round that needs
        // other companies never waits while holding some (no lock cycle with another batch).
        const companyLocks: (() => void)[] = []
        try {
          await this.processLocked(pending, now, report, round > 1, async (keys) => {
            companyLocks.push(await this.locks.acquire(keys))
          })
        } finally {
          for (const release of companyLocks) release()
        }
        if (round === AGAIN_ROUNDS) break
        pending = pending.filter(({ index }) => {
          const result = report.results[index]
          return result.status === 'retryable' && (result.conflict === true || result.schema === true)
        })
        const drifted = pending.some(({ index }) => (report.results[index] as { schema?: boolean }).schema)
        if (drifted && !reconciled) {
          reconciled = true
          await this.bootstrap(true)
        }
        for (const { index } of pending) report.results[index] = { status: 'ok' }
      }
      for (const problem of this.incompatible) report.problems.push(problem)
    } finally {
      for (const release of releases) release()
    }
    return report
  }

  /** Re-evaluates the subjects active within the horizon as of `now` (SPEC §4), writing only what changed. */
  async sweep(now: number, options: SweepOptions = {}): Promise<SweepReport> {
    await this.bootstrap()
    return sweep(this.parts, now, options)
  }

  /** Re-evaluates stored subjects as of `now` with no events (the server's sweep: its subjects are in its database, not found by search). */
  async sweepStored(objectType: ObjectType, records: StoredRecord[], now: number): Promise<SyncReport> {
    await this.bootstrap()
    const report: SyncReport = { results: [], handoffs: [], problems: [], written: { contacts: 0, companies: 0 } }
    await sweepRecords(this.parts, objectType, records, now, report)
    return report
  }

  private async processLocked(valid: IndexedEvent[], now: number, report: SyncReport, afresh: boolean, lockCompanies: (keys: string[]) => Promise<void>) {
    const { model, store } = this.parts
    const fail = (index: number, result: RecordResult) => recordFailure(report, index, result)
    const resolved = await this.resolveContacts(valid, now, report, afresh)
    for (const contact of resolved) {
      if (contact.failure) for (const { index } of contact.events) fail(index, contact.failure)
      if (contact.record?.problem) report.problems.push(`contact ${contact.key}: ${contact.record.problem}`)
    }
    const live = resolved.filter((contact) => !contact.failure)
    const applied = applyToContacts(
      model,
      live.map(({ key, person, record, events }) => ({ key, email: person.email, userId: person.userId, stored: record, events })),
      now
    )

    const companyRecords = new Map<string, StoredRecord | undefined>()
    const stored = new Map<string, StoredSubject | undefined>()
    if (model.company && applied.companyEvents.size > 0) {
      const keys = [...applied.companyEvents.keys()]
      await lockCompanies(keys.map((key) => `company:${key}`))
      const { found, failed } = await store.read('companies', 'pqlkit_company_key', keys, now)
      for (const key of keys) {
        const failure = failed.get(key)
        if (failure) {
          for (const { index } of applied.companyEvents.get(key)!.events) fail(index, failure)
          continue
        }
        const record = found.get(key)
        if (record?.problem) report.problems.push(`company ${key}: ${record.problem}`)
        companyRecords.set(key, record)
        stored.set(key, record)
      }
    }
    const outcome = finishBatch(model, applied, stored, now)
    for (const { index, error } of outcome.rejected) fail(index, { status: 'invalid', message: error.message })

    const byKey = new Map(live.map((contact) => [contact.key, contact]))
    const contacts: Contact[] = outcome.contacts.map((evaluated) => {
      const { person, record } = byKey.get(evaluated.key)!
      return {
        ...evaluated,
        record,
        userId: person.userId,
        claimEmail: record !== undefined && person.email !== undefined && !record.properties.email,
        bindUserId: person.userId !== undefined && record?.properties.pqlkit_user_id !== person.userId
      }
    })
    const companies = new Map<string, Company>(outcome.companies.map((company) => [company.key, { ...company, record: companyRecords.get(company.key) }]))

    // Hand-offs go out after the writes (SPEC §4 step 5 as docs/architecture.md has it under
    // concurrency): a contact whose write failed sends none, and its events, retried, cross
    // again; a written crossing is claimed before it is sent, so two workers that decided it
    // from stale copies send it once. With a deferred sink the write is the host's, after
    // this batch, and carried only by events that succeed: hand-offs go only for contacts
    // with such an event, or an event failed for its company would send them again.
    const { deferred } = this.parts.sink
    const existing = contacts.filter((contact) => contact.record)
    await writeCompanies(this.parts, [...companies.values()], report)
    const postponed = await associate(this.parts, existing, companies, report)
    // A contact the host creates gets no mark: its next batch, with the record, associates it.
    if (!deferred) markNewContacts(contacts, companies)
    await writeContacts(this.parts, contacts, report)
    postponed.push(...(await associate(this.parts, contacts.filter((contact) => contact.createdNow), companies, report)))

    for (const subject of [...contacts, ...companies.values()]) {
      if (subject.failure) for (const { index } of subject.events) fail(index, subject.failure)
    }
    const succeeded = (contact: Contact) => contact.events.some(({ index }) => report.results[index].status === 'ok')
    const unsent = await sendHandoffs(this.parts, deferred ? contacts.filter(succeeded) : contacts, report)
    // Written, hand-offs sent: sent again, the events are known by their ids and only the
    // association, or the hand-off kept pending, is tried again. A deferred sink's write rides
    // on the events that succeed: there both wait for the contact's next batch (or the sweep).
    for (const contact of deferred ? [] : postponed) {
      const result: RecordResult = {
        status: 'retryable',
        message: `contact ${contact.email ?? contact.key}: HubSpot could not associate it to company ${contact.association} yet; send the event again`,
        retryAfterMs: 1_000
      }
      for (const { index } of contact.events) fail(index, result)
    }
    for (const contact of deferred ? [] : unsent) {
      const result: RecordResult = {
        status: 'retryable',
        message: `contact ${contact.email ?? contact.key}: a hand-off is pending; send the event again`,
        retryAfterMs: 1_000
      }
      for (const { index } of contact.events) if (report.results[index].status === 'ok') fail(index, result)
    }
    settleSubjects(this.parts, contacts, [...companies.values()])
  }

  /**
   * Reads the batch's contacts (by email, then by the userIds their records do not carry)
   * and resolves each event's contact with the identity rules, in replay order. `afresh`:
   * the events go again after a 409, and every userId is read.
   */
  private async resolveContacts(valid: IndexedEvent[], now: number, report: SyncReport, afresh: boolean): Promise<Resolved[]> {
    const { store, sink } = this.parts
    const emails = [...new Set(valid.flatMap(({ event }) => (event.email ? [event.email] : [])))]
    const byEmail = await store.read('contacts', 'email', emails, now)
    const carried = new Set([...byEmail.found.values()].map((record) => record.properties.pqlkit_user_id))
    // A userId needs reading when no record read by email carries it; not when it came with an
    // email that could not be read: its events fail with that contact's. Nor, at first, when
    // it came with an email no record has (a person new to HubSpot, as most are in a
    // backfill): the write creates their record with the userId, and should a record already
    // hold that userId, HubSpot refuses the write with a 409 (the userId is unique) and the
    // events go again afresh, reading it. A deferred sink's write is the host's, after the
    // batch, and brings no 409 back: there the userId is read at once.
    const newByEmail = (email: string) => !afresh && !sink.deferred && !byEmail.found.has(email)
    const unread = new Set(
      valid.flatMap(({ event }) => (event.email && event.userId && (byEmail.failed.has(event.email) || newByEmail(event.email)) ? [event.userId] : []))
    )
    const userIds = [...new Set(valid.flatMap(({ event }) => (event.userId && !carried.has(event.userId) && !unread.has(event.userId) ? [event.userId] : [])))]
    const byUserId = await store.read('contacts', 'pqlkit_user_id', userIds, now)

    const identities = new Identities()
    const records = new Map<string, StoredRecord>()
    for (const record of [...byEmail.found.values(), ...byUserId.found.values()]) {
      if (records.has(record.id)) continue
      records.set(record.id, record)
      identities.add({
        id: record.id,
        email: record.properties.email?.toLowerCase() || undefined,
        userId: record.properties.pqlkit_user_id || undefined
      })
    }
    const people = new Map<Person, Resolved>()
    for (const item of [...valid].sort((a, b) => compareReplayOrder(a.event, b.event))) {
      const { person, problem } = identities.resolve(item.event.email, item.event.userId)
      if (problem && !report.problems.includes(problem)) report.problems.push(problem)
      let contact = people.get(person)
      if (!contact) {
        contact = { person, key: '', record: person.id === undefined ? undefined : records.get(person.id), events: [] }
        people.set(person, contact)
      }
      contact.events.push(item)
      const failure =
        (item.event.email && byEmail.failed.get(item.event.email)) || (item.event.userId && byUserId.failed.get(item.event.userId))
      if (failure && !contact.failure) contact.failure = failure
    }
    for (const contact of people.values()) {
      contact.key = contact.person.email ?? `user:${contact.person.userId}`
      contact.events.sort((a, b) => a.index - b.index)
    }
    return [...people.values()]
  }
}
