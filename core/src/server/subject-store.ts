import { decodeState, encodeState } from '../engine/state'
import type { HubSpotRecord } from '../hubspot/api'
import { LAST_EVENT_PROPERTY, ObjectType, toHubSpotValue } from '../hubspot/properties'
import type { SettledSubject, StateStore, StoredRead, StoredRecord } from '../pipeline/state-store'
import type { Row, Sql } from './database'

/** The most ids in one `IN (…)` list (SQLite allows 32,766 parameters; Postgres 65,535). */
const IN_LIST = 500

/**
 * The server's state store (the state-store seam): each subject's state, HubSpot record id and
 * the property values HubSpot holds, in the database. Nothing is read from HubSpot and
 * `pqlkit_state` is not written: HubSpot receives only the properties that changed. The
 * pipeline hands it the batch's subjects after its writes (`settle`); the drain commits them
 * with the batch's events (`commitSubjects`), in one transaction.
 */
export class DatabaseStateStore implements StateStore {
  private settled: SettledSubject[] = []
  /** One drain at a time writes (docs/server.md): no concurrent writer to repair or arbitrate. */
  readonly exclusive = true

  constructor(private readonly sql: Sql) {}

  async read(objectType: ObjectType, idProperty: string, ids: string[]): Promise<StoredRead> {
    const found = new Map<string, StoredRecord>()
    const column = idProperty === 'hs_object_id' ? 'record_id' : objectType === 'companies' ? 'company_key' : idProperty === 'email' ? 'email' : 'user_id'
    const table = objectType === 'companies' ? 'companies' : 'contacts'
    for (let i = 0; i < ids.length; i += IN_LIST) {
      const slice = ids.slice(i, i + IN_LIST)
      const lookup = column === 'email' ? slice.map((id) => id.toLowerCase()) : slice
      const rows = await this.sql.all(`SELECT * FROM ${table} WHERE ${column} IN (${lookup.map(() => '?').join(', ')})`, lookup)
      for (const row of rows) {
        const record = storedFromRow(objectType, row)
        found.set(String(row[column]), record)
      }
    }
    return { found, failed: new Map() }
  }

  /** The database's state is the exact one: the records read again by id, as they are. */
  reread(objectType: ObjectType, records: HubSpotRecord[]): Promise<StoredRead> {
    return this.read(objectType, 'hs_object_id', records.map((record) => record.id))
  }

  stateProperties(): Record<string, string> {
    return {}
  }

  settle(subjects: SettledSubject[]): void {
    this.settled.push(...subjects)
  }

  /** The subjects the pipeline settled since the last call. */
  take(): SettledSubject[] {
    const subjects = this.settled
    this.settled = []
    return subjects
  }
}

export function storedFromRow(objectType: ObjectType, row: Row): StoredRecord {
  const properties = JSON.parse(String(row.properties)) as Record<string, string>
  if (objectType === 'contacts') {
    if (row.email) properties.email = String(row.email)
    if (row.user_id) properties.pqlkit_user_id = String(row.user_id)
  } else properties.pqlkit_company_key = String(row.company_key)
  const { state, problem } = decodeState(String(row.state))
  return { id: String(row.record_id), properties, state, ...(problem ? { problem } : {}) }
}

/** What HubSpot holds after the write: what it held, what it answered, and every value the batch step gave. */
function heldProperties(subject: SettledSubject, before: Record<string, string> | undefined): Record<string, string | null> {
  const held: Record<string, string | null> = { ...before, ...(subject.record as HubSpotRecord).properties }
  for (const [name, value] of Object.entries(subject.properties)) held[name] = toHubSpotValue(value)
  const at = Date.parse(held[LAST_EVENT_PROPERTY] ?? '')
  if (subject.lastEventAt !== undefined && !(at >= subject.lastEventAt)) held[LAST_EVENT_PROPERTY] = new Date(subject.lastEventAt).toISOString()
  for (const name of ['email', 'pqlkit_user_id', 'pqlkit_company_key', 'pqlkit_state']) delete held[name]
  for (const name of Object.keys(held)) if (name.startsWith('hs_') || name === 'createdate' || name === 'lastmodifieddate') delete held[name]
  return held
}

/** Commits settled subjects (inside the drain's transaction). */
export async function commitSubjects(sql: Sql, subjects: SettledSubject[]): Promise<void> {
  for (const subject of subjects) {
    if (!subject.record) continue
    const state = encodeState(subject.state)
    const lastEventAt = subject.lastEventAt ?? null
    if (subject.objectType === 'contacts') {
      const [before] = await sql.all(`SELECT properties, email, user_id, last_event_at FROM contacts WHERE record_id = ?`, [subject.record.id])
      const properties = JSON.stringify(heldProperties(subject, before ? JSON.parse(String(before.properties)) : undefined))
      const email = subject.email?.toLowerCase() ?? (before?.email as string | undefined) ?? null
      const userId = subject.userId ?? (before?.user_id as string | undefined) ?? null
      const last = Math.max(Number(before?.last_event_at ?? 0), Number(lastEventAt ?? 0)) || null
      await sql.run(
        `INSERT INTO contacts (record_id, email, user_id, state, properties, last_event_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (record_id) DO UPDATE SET email = excluded.email, user_id = excluded.user_id, state = excluded.state,
           properties = excluded.properties, last_event_at = excluded.last_event_at`,
        [subject.record.id, email, userId, state, properties, last]
      )
    } else {
      const [before] = await sql.all(`SELECT properties, last_event_at FROM companies WHERE company_key = ?`, [subject.key])
      const properties = JSON.stringify(heldProperties(subject, before ? JSON.parse(String(before.properties)) : undefined))
      const last = Math.max(Number(before?.last_event_at ?? 0), Number(lastEventAt ?? 0)) || null
      await sql.run(
        `INSERT INTO companies (company_key, record_id, state, properties, last_event_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (company_key) DO UPDATE SET record_id = excluded.record_id, state = excluded.state,
           properties = excluded.properties, last_event_at = excluded.last_event_at`,
        [subject.key, subject.record.id, state, properties, last]
      )
    }
  }
}
