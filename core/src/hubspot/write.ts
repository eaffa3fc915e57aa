import { RetryableError } from '../engine/errors'
import type { BatchResult, HubSpotRecord } from './api'
import { HubSpotRequestError } from './transport'

/** What happened to one input record, in terms a host can report (SPEC §5, §6). */
export type RecordResult =
  | { status: 'ok' }
  | { status: 'invalid'; message: string }
  /**
   * `conflict`: a unique value (an email, a userId) another record took since it was read:
   * read again and retry. `schema`: the portal's properties changed under pqlkit (deleted,
   * retyped, a tier option missing): reconcile them and retry.
   */
  | { status: 'retryable'; message: string; retryAfterMs: number; throttled?: boolean; conflict?: boolean; schema?: boolean }

/** One record of a batch write, with the ids HubSpot may name it by in an error's `context`. */
export type WriteItem<I> = {
  input: I
  ids: string[]
  /** Finds this item's record among the call's results. */
  matches(record: HubSpotRecord): boolean
  done(record: HubSpotRecord | undefined): void
  failed(result: RecordResult): void
}

export const BATCH_LIMIT = 100

export function chunks<T>(list: T[], size = BATCH_LIMIT): T[][] {
  const result: T[][] = []
  for (let i = 0; i < list.length; i += size) result.push(list.slice(i, i + size))
  return result
}

/** Errors whose category says the record itself is wrong: retrying cannot help. */
const INVALID_CATEGORIES = new Set(['VALIDATION_ERROR', 'INVALID_EMAIL', 'PROPERTY_DOESNT_EXIST'])
/** Errors whose category says another record holds one of the record's unique values. */
const CONFLICT_CATEGORIES = new Set(['CONFLICT', 'OBJECT_ALREADY_EXISTS'])

/**
 * HubSpot's codes for a value its property refuses. pqlkit writes only values of the types it
 * created its properties with, so one of these on a write means the portal changed under it.
 */
const SCHEMA_DRIFT = /\b(PROPERTY_DOESNT_EXIST|INVALID_OPTION|INVALID_NUMBER|INVALID_BOOLEAN|INVALID_DATE|INVALID_INTEGER)\b/

function schemaDrift(message: string): RecordResult {
  return { status: 'retryable', message, retryAfterMs: 0, schema: true }
}

function conflict(message: string): RecordResult {
  return { status: 'retryable', message, retryAfterMs: 0, conflict: true }
}

/** Writes of a record a 207 reported as transiently failed, in all, before it is reported retryable. */
export const PARTIAL_ATTEMPTS = 3

/**
 * Writes items in batches of 100. A 207 is matched back to records through its errors'
 * `context` ids (SPEC §5), and the records it failed transiently are written again at once
 * (up to PARTIAL_ATTEMPTS in all), so a record is rarely handed back to its host for
 * re-delivery, which would repeat the hand-offs sent before the write. A 400 for a whole
 * batch (HubSpot's answer to one bad value) is split in halves until the bad records are
 * found, so every other record is written. Authentication failures are thrown.
 */
export async function writeInBatches<I>(items: WriteItem<I>[], call: (inputs: I[]) => Promise<BatchResult>): Promise<void> {
  for (const chunk of chunks(items)) await writeChunk(chunk, call, 1)
}

async function writeChunk<I>(chunk: WriteItem<I>[], call: (inputs: I[]) => Promise<BatchResult>, attempt: number): Promise<void> {
  let result: BatchResult
  try {
    result = await call(chunk.map((item) => item.input))
  } catch (error) {
    if (error instanceof HubSpotRequestError && error.status === 400 && SCHEMA_DRIFT.test(error.message)) {
      for (const item of chunk) item.failed(schemaDrift(error.message))
      return
    }
    if (error instanceof HubSpotRequestError && (error.status === 400 || error.status === 409)) {
      if (chunk.length === 1) {
        chunk[0].failed(error.status === 409 ? conflict(error.message) : { status: 'invalid', message: error.message })
        return
      }
      const middle = Math.ceil(chunk.length / 2)
      await writeChunk(chunk.slice(0, middle), call, attempt)
      await writeChunk(chunk.slice(middle), call, attempt)
      return
    }
    if (error instanceof RetryableError) {
      for (const item of chunk) {
        item.failed({ status: 'retryable', message: error.message, retryAfterMs: error.retryAfterMs, throttled: error.throttled })
      }
      return
    }
    throw error
  }
  const failed = new Set<WriteItem<I>>()
  const again: WriteItem<I>[] = []
  const fail = (item: WriteItem<I>, outcome: RecordResult) => {
    failed.add(item)
    if (outcome.status === 'retryable' && !outcome.conflict && !outcome.schema && attempt < PARTIAL_ATTEMPTS) again.push(item)
    else item.failed(outcome)
  }
  let unmatched = false
  for (const error of result.errors) {
    const named = new Set(Object.values(error.context ?? {}).flat().map((id) => String(id).toLowerCase()))
    const items = chunk.filter((item) => item.ids.some((id) => named.has(id.toLowerCase())))
    if (items.length === 0) unmatched = true
    for (const item of items) {
      if (failed.has(item)) continue
      const message = `HubSpot: ${error.message}`
      fail(
        item,
        SCHEMA_DRIFT.test(message)
          ? schemaDrift(message)
          : error.category && INVALID_CATEGORIES.has(error.category)
            ? { status: 'invalid', message }
            : error.category && CONFLICT_CATEGORIES.has(error.category)
              ? conflict(message)
              : { status: 'retryable', message, retryAfterMs: 1_000 }
      )
    }
  }
  for (const item of chunk) {
    if (failed.has(item)) continue
    const record = result.results.find((candidate) => item.matches(candidate))
    if (record || !unmatched) item.done(record)
    else fail(item, { status: 'retryable', message: 'HubSpot reported errors it did not attribute to records', retryAfterMs: 1_000 })
  }
  if (again.length > 0) await writeChunk(again, call, attempt + 1)
}
