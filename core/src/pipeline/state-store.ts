import type { Model } from '../model/compile'
import { HANDOFF_PROPERTIES } from '../model/compile'
import type { AttributedEvent } from '../engine/aggregate'
import { CONTRIBUTIONS_EXAMINED, Contribution, contributionToken, decodeContribution, encodeContribution, includedBy, repairState } from '../engine/contribution'
import { decodeState, encodeState, SubjectState } from '../engine/state'
import type { HubSpotCalls, HubSpotRecord } from '../hubspot/api'
import { CONTRIBUTION_PROPERTY, HANDOFF_CLAIM_PROPERTY, modelProperties, ObjectType } from '../hubspot/properties'
import { readRecords } from '../hubspot/records'
import type { RecordResult } from '../hubspot/write'
import type { PropertyValue } from '../engine/evaluate'

/**
 * A subject as stored: its HubSpot record (id and properties) and its decoded state, with
 * the contributions a concurrent write overwrote re-applied.
 */
export type StoredRecord = HubSpotRecord & { state: SubjectState; problem?: string }

/** What a write adds to a subject: its next state and the events the batch applied to it. */
export type SubjectWrite = { state: SubjectState; events: AttributedEvent[] }

export type StoredRead = {
  /** By id-property value (emails lower-cased). */
  found: Map<string, StoredRecord>
  failed: Map<string, RecordResult>
}

/**
 * Where a subject's state is read and written: the pipeline's state-store seam. Reading gives
 * each subject's record and state as of `now`; writing is part of the subject's record
 * write, with the properties `stateProperties` gives (only when the state changed). Throws
 * StateTooLargeError when a state cannot be stored.
 */
export interface StateStore {
  read(objectType: ObjectType, idProperty: string, ids: string[], now: number): Promise<StoredRead>
  /** Repairs records another read gave (the sweep's search): read again with what repairing needs. */
  reread(objectType: ObjectType, records: HubSpotRecord[], now: number): Promise<StoredRead>
  stateProperties(objectType: ObjectType, subject: SubjectWrite, stored: StoredRecord | undefined): Record<string, string>
  /** The store serialises every write itself (the server's database): hand-offs need no claim in HubSpot. */
  readonly exclusive?: boolean
  /**
   * A store that keeps states itself (the server's database) is given every subject of a
   * batch after its writes, to commit with the batch's events; `failed` ones must not be.
   */
  settle?(subjects: SettledSubject[]): void
}

/** A subject after a batch's writes: its record as HubSpot now holds it, its next state and property values. */
export type SettledSubject = {
  objectType: ObjectType
  key: string
  email?: string
  userId?: string
  record?: HubSpotRecord
  state: SubjectState
  properties: Record<string, PropertyValue>
  lastEventAt?: number
  /** The input indexes of the batch's events for this subject. */
  events: number[]
  failed: boolean
}

const INTERNALS: Record<ObjectType, string[]> = {
  // The hand-off claim, for the pending hand-offs it keeps (pipeline/handoff-claims.ts).
  contacts: ['pqlkit_state', CONTRIBUTION_PROPERTY, 'pqlkit_user_id', HANDOFF_CLAIM_PROPERTY, ...HANDOFF_PROPERTIES],
  companies: ['pqlkit_state', CONTRIBUTION_PROPERTY, 'pqlkit_company_key', 'name', 'domain']
}

/** The properties pqlkit reads of a subject: the model's, and its internals. */
export function readProperties(model: Model, objectType: ObjectType): string[] {
  return [...new Set([...modelProperties(model, objectType).map((property) => property.name), ...INTERNALS[objectType]])]
}

/** The key the batch step knows a stored contact or company by. */
function subjectKey(objectType: ObjectType, record: HubSpotRecord): { key: string; email?: string } {
  const { properties } = record
  if (objectType === 'companies') return { key: properties.pqlkit_company_key || `id:${record.id}` }
  const email = properties.email?.toLowerCase() || undefined
  return { key: email ?? (properties.pqlkit_user_id ? `user:${properties.pqlkit_user_id}` : `id:${record.id}`), email }
}

/**
 * The contributions in a record's history of `pqlkit_contribution` (the newest
 * CONTRIBUTIONS_EXAMINED) that are not `included`, oldest first.
 */
function missingContributions(record: HubSpotRecord, included: string[]): Contribution[] {
  const versions = record.history?.[CONTRIBUTION_PROPERTY] ?? []
  const tokens = new Set(included)
  const contributions: Contribution[] = []
  for (const version of versions.slice(0, CONTRIBUTIONS_EXAMINED).reverse()) {
    const token = contributionToken(version.value)
    if (token !== undefined && tokens.has(token)) continue
    const contribution = decodeContribution(version.value)
    if (contribution) contributions.push(contribution)
  }
  return contributions
}

/**
 * A record's state, decoded from `pqlkit_state` (an unreadable one starts afresh, with a
 * problem to report), with the contributions of its history that it does not include
 * re-applied as of `now`; `included`: the contributions it then includes.
 */
function storedRecord(model: Model, objectType: ObjectType, record: HubSpotRecord, now: number): { stored: StoredRecord; included: string[] } {
  const { state, problem } = decodeState(record.properties.pqlkit_state)
  const { key, email } = subjectKey(objectType, record)
  const current = includedBy(record.properties[CONTRIBUTION_PROPERTY])
  const subject = objectType === 'contacts' ? 'contact' : 'company'
  const { included } = repairState(model, subject, state, missingContributions(record, current), current, key, email, now)
  // The history has served: the batch keeps only the record.
  const { history: _history, ...kept } = record
  return { stored: { ...kept, state, ...(problem ? { problem } : {}) }, included }
}

/**
 * SPEC §4: the state is the record's own `pqlkit_state` property, read and written with it,
 * and each write's contribution is `pqlkit_contribution`, read with its history: HubSpot has
 * no conditional write, so a read re-applies what a concurrent write overwrote
 * (docs/architecture.md, "State").
 */
export class HubSpotStateStore implements StateStore {
  /** The contributions each state read (or written) here includes: the batch step updates states in place. */
  private readonly included = new WeakMap<SubjectState, string[]>()

  /**
   * `repair: false`: reads skip the history (100 records a call, not 50) and repair nothing;
   * the writes still carry their contributions and the tokens they include, so the next read
   * with history (a host's, or the sweep) repairs what this one did not see. A backfill's choice.
   */
  constructor(
    private readonly api: HubSpotCalls,
    private readonly model: Model,
    private readonly repair = true
  ) {}

  async read(objectType: ObjectType, idProperty: string, ids: string[], now: number): Promise<StoredRead> {
    const history = this.repair ? [CONTRIBUTION_PROPERTY] : undefined
    const { found, failed } = await readRecords(this.api, objectType, idProperty, ids, readProperties(this.model, objectType), history)
    const records = new Map<string, StoredRecord>()
    for (const [id, record] of found) {
      const { stored, included } = storedRecord(this.model, objectType, record, now)
      this.included.set(stored.state, included)
      records.set(id, stored)
    }
    return { found: records, failed }
  }

  async reread(objectType: ObjectType, records: HubSpotRecord[], now: number): Promise<StoredRead> {
    return this.read(objectType, 'hs_object_id', records.map((record) => record.id), now)
  }

  stateProperties(objectType: ObjectType, subject: SubjectWrite, stored: StoredRecord | undefined): Record<string, string> {
    const text = encodeState(subject.state)
    if (stored?.properties.pqlkit_state === text) return {}
    const kind = objectType === 'contacts' ? 'contact' : 'company'
    const contribution = encodeContribution(this.model, kind, subject.state, subject.events, this.included.get(subject.state) ?? [])
    // A second write of this state in the batch (a contact's association taken back) includes this one.
    this.included.set(subject.state, contribution.included)
    return { pqlkit_state: text, [CONTRIBUTION_PROPERTY]: contribution.text }
  }
}
