import { RetryableError } from '../engine/errors'
import type { HubSpotCalls, HubSpotRecord } from './api'
import type { ObjectType } from './properties'
import { HubSpotRequestError } from './transport'
import { chunks, PARTIAL_ATTEMPTS, RecordResult } from './write'

export type ReadRecords = {
  /** The records found, by id-property value (emails lower-cased). */
  found: Map<string, HubSpotRecord>
  /** The ids that could not be read, with what to report for their events. */
  failed: Map<string, RecordResult>
}

/** How an id is matched back: emails are case-insensitive in HubSpot. */
export function idKey(idProperty: string, id: string): string {
  return idProperty === 'email' ? id.toLowerCase() : id
}

/** HubSpot's limit for a batch read that asks for property history (100 without). */
export const HISTORY_READ_LIMIT = 50

/**
 * Batch-reads records by an id property, 100 at a time (50 with `withHistory`, the properties
 * whose versions come back too). A 207's OBJECT_NOT_FOUND means
 * "new"; any other error means "unknown": such an id is read again (PARTIAL_ATTEMPTS in all)
 * and never taken for new, since its upsert would overwrite what is stored.
 */
export async function readRecords(
  api: HubSpotCalls,
  objectType: ObjectType,
  idProperty: string,
  ids: string[],
  properties: string[],
  withHistory: string[] = []
): Promise<ReadRecords> {
  const result: ReadRecords = { found: new Map(), failed: new Map() }
  const key = (id: string) => idKey(idProperty, id)
  for (const chunk of chunks([...new Set(ids)], withHistory.length > 0 ? HISTORY_READ_LIMIT : undefined)) {
    let pending = chunk
    for (let attempt = 1; pending.length > 0; attempt++) {
      let unread: string[]
      let message = ''
      try {
        const answer = await api.batchRead(objectType, idProperty, pending, properties, withHistory)
        for (const record of answer.results) {
          const id = record.properties[idProperty]
          if (id) result.found.set(key(id), record)
        }
        const failed = answer.errors.filter((error) => error.category !== 'OBJECT_NOT_FOUND')
        const named = new Set(failed.flatMap((error) => Object.values(error.context ?? {}).flat().map((id) => key(String(id)))))
        unread = failed.some((error) => !error.context)
          ? pending.filter((id) => !result.found.has(key(id)))
          : pending.filter((id) => named.has(key(id)))
        message = failed[0]?.message ?? ''
      } catch (error) {
        const failure = readFailure(error)
        for (const id of pending) result.failed.set(key(id), failure)
        break
      }
      if (unread.length > 0 && attempt >= PARTIAL_ATTEMPTS) {
        const failure: RecordResult = { status: 'retryable', message: `HubSpot could not read ${objectType}: ${message}`, retryAfterMs: 1_000 }
        for (const id of unread) result.failed.set(key(id), failure)
        break
      }
      pending = unread
    }
  }
  return result
}

/** A read that failed as a whole: retryable, or invalid for a 4xx other than an authentication failure (thrown). */
export function readFailure(error: unknown): RecordResult {
  if (error instanceof RetryableError) {
    return { status: 'retryable', message: error.message, retryAfterMs: error.retryAfterMs, throttled: error.throttled }
  }
  if (error instanceof HubSpotRequestError && error.status !== 401 && error.status !== 403) {
    return { status: 'invalid', message: error.message }
  }
  throw error
}
