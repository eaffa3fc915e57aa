import type { Model } from '../model/compile'
import { HANDOFF_PROPERTIES } from '../model/compile'
import { decodeState, encodeState, SubjectState } from '../engine/state'
import type { HubSpotCalls, HubSpotRecord } from '../hubspot/api'
import { modelProperties, ObjectType } from '../hubspot/properties'
import { readRecords } from '../hubspot/records'
import type { RecordResult } from '../hubspot/write'
import type { PropertyValue } from '../engine/evaluate'

/** A subject as stored: its HubSpot record (id and properties) and its decoded state. */
export type StoredRecord = HubSpotRecord & { state: SubjectState; problem?: string }

export type StoredRead = {
  /** By id-property value (emails lower-cased). */
  found: Map<string, StoredRecord>
  failed: Map<string, RecordResult>
}

/**
 * Where a subject's state is read and written: the pipeline's state-store seam. Reading gives
 * each subject's record and state; writing is part of the subject's record write, with the
 * properties `stateProperties` gives (only when the state changed). Throws StateTooLargeError
 * when a state cannot be stored.
 */
export interface StateStore {
  read(objectType: ObjectType, idProperty: string, ids: string[]): Promise<StoredRead>
  stateProperties(state: SubjectState, stored: StoredRecord | undefined): Record<string, string>
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
  contacts: ['pqlkit_state', 'pqlkit_user_id', ...HANDOFF_PROPERTIES],
  companies: ['pqlkit_state', 'pqlkit_company_key', 'name', 'domain']
}

/** The properties pqlkit reads of a subject: the model's, and its internals. */
export function readProperties(model: Model, objectType: ObjectType): string[] {
  return [...new Set([...modelProperties(model, objectType).map((property) => property.name), ...INTERNALS[objectType]])]
}

/** A record's state, decoded from `pqlkit_state` (an unreadable one starts afresh, with a problem to report). */
export function storedRecord(record: HubSpotRecord): StoredRecord {
  const { state, problem } = decodeState(record.properties.pqlkit_state)
  return { ...record, state, ...(problem ? { problem } : {}) }
}

/** SPEC §4 today: the state is the record's own `pqlkit_state` property, read and written with it. */
export class HubSpotStateStore implements StateStore {
  constructor(
    private readonly api: HubSpotCalls,
    private readonly model: Model
  ) {}

  async read(objectType: ObjectType, idProperty: string, ids: string[]): Promise<StoredRead> {
    const { found, failed } = await readRecords(this.api, objectType, idProperty, ids, readProperties(this.model, objectType))
    return { found: new Map([...found].map(([id, record]) => [id, storedRecord(record)])), failed }
  }

  stateProperties(state: SubjectState, stored: StoredRecord | undefined): Record<string, string> {
    const text = encodeState(state)
    return stored?.properties.pqlkit_state === text ? {} : { pqlkit_state: text }
  }
}
