import type { IndexedEvent } from '../engine/batch'
import type { HubSpotCalls, HubSpotRecord, UpsertInput } from '../hubspot/api'
import { RecordResult, writeInBatches, WriteItem } from '../hubspot/write'

/** One contact's write: the properties that changed (absolute values, new state included). */
export type ContactWrite = {
  email?: string
  userId?: string
  /** The HubSpot record, when it exists. */
  recordId?: string
  /** The record was found by userId and has no email yet: this write gives it one (by id). */
  claimEmail?: boolean
  events: IndexedEvent[]
  properties: Record<string, string>
  done(record: HubSpotRecord | undefined): void
  failed(result: RecordResult): void
}

/** A contact write handed back to the host: the properties that changed (absolute values, new state included). */
export type HandedBackContact = {
  email: string
  properties: Record<string, string>
  /** The input indexes of the batch's events for this contact. */
  events: number[]
}

/**
 * Where contact writes go: the pipeline's contact-sink seam. `deferred`: the host delivers
 * the writes it is handed back after pqlkit ran, so hand-offs wait for pqlkit's own writes
 * and go only for contacts with an event that succeeded (the events the host's write rides
 * on), and a contact the host creates is associated by its next batch.
 */
export interface ContactSink {
  readonly deferred: boolean
  write(writes: ContactWrite[]): Promise<HandedBackContact[]>
}

/** Contacts written to HubSpot: records by id, new ones upserted by email (or by userId when there is none). */
export class HubSpotContactSink implements ContactSink {
  readonly deferred = false

  constructor(private readonly api: HubSpotCalls) {}

  async write(writes: ContactWrite[]): Promise<HandedBackContact[]> {
    const updates: WriteItem<{ id: string; properties: Record<string, string> }>[] = []
    const upserts = new Map<string, WriteItem<UpsertInput>[]>()
    for (const write of writes) {
      const { done, failed, properties } = write
      if (write.recordId !== undefined) {
        const id = write.recordId
        updates.push({ input: { id, properties }, ids: [id, write.email ?? ''], matches: (record) => record.id === id, done, failed })
        continue
      }
      const idProperty = write.email ? 'email' : 'pqlkit_user_id'
      const id = write.email ?? write.userId!
      const list = upserts.get(idProperty) ?? []
      list.push({
        input: { idProperty, id, properties },
        ids: [id],
        matches: (record) => (record.properties[idProperty] ?? '').toLowerCase() === id.toLowerCase(),
        done,
        failed
      })
      upserts.set(idProperty, list)
    }
    await writeInBatches(updates, (inputs) => this.api.batchUpdate('contacts', inputs))
    for (const items of upserts.values()) await writeInBatches(items, (inputs) => this.api.batchUpsert('contacts', inputs))
    return []
  }
}

/**
 * For a host whose own HubSpot destination upserts contacts by email: contacts
 * known by email are handed back instead of written. A record found by userId without an
 * email is still written here (an upsert by email would create another).
 */
export class HandBackContactSink implements ContactSink {
  readonly deferred = true

  constructor(private readonly hubspot: ContactSink) {}

  async write(writes: ContactWrite[]): Promise<HandedBackContact[]> {
    const handedBack: HandedBackContact[] = []
    const own: ContactWrite[] = []
    for (const write of writes) {
      if (write.email && !write.claimEmail) {
        handedBack.push({ email: write.email, properties: write.properties, events: write.events.map(({ index }) => index) })
      } else own.push(write)
    }
    await this.hubspot.write(own)
    return handedBack
  }
}
