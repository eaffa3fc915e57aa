import { RetryableError } from '../engine/errors'
import type { BatchResult, HubSpotRecord } from './client'
import { HubSpotRequestError } from './transport'

/** What happened to one input record, in terms a host can report (SPEC §5, §6). */
export type RecordResult =
  | { status: 'ok' }
  | { status: 'invalid'; message: string }
  | { status: 'retryable'; message: string; retryAfterMs: number; throttled?: boolean }

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
const INVALID_CATEGORIES = new Set(['VALIDATION_ERROR', 'INVALID_EMAIL', 'PROPERTY_DOESNT_EXIST', 'CONFLICT', 'OBJECT_ALREADY_EXISTS'])

/**
 * Writes items in batches of 100. A 207 is matched back to records through its errors'
 * `context` ids (SPEC §5); a 400 for a whole batch (HubSpot's answer to one bad value) is
 * split in halves until the bad records are found, so every other record is written.
 * Authentication failures are not per-record: they are thrown.
 */
export async function writeInBatches<I>(items: WriteItem<I>[], call: (inputs: I[]) => Promise<BatchResult>): Promise<void> {
  for (const chunk of chunks(items)) await writeChunk(chunk, call)
}

async function writeChunk<I>(chunk: WriteItem<I>[], call: (inputs: I[]) => Promise<BatchResult>): Promise<void> {
  let result: BatchResult
  try {
    result = await call(chunk.map((item) => item.input))
  } catch (error) {
    if (error instanceof HubSpotRequestError && (error.status === 400 || error.status === 409)) {
      if (chunk.length === 1) {
        chunk[0].failed({ status: 'invalid', message: error.message })
        return
      }
      const middle = Math.ceil(chunk.length / 2)
      await writeChunk(chunk.slice(0, middle), call)
      await writeChunk(chunk.slice(middle), call)
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
  let unmatched = false
  for (const error of result.errors) {
    const named = new Set(Object.values(error.context ?? {}).flat().map((id) => String(id).toLowerCase()))
    const items = chunk.filter((item) => item.ids.some((id) => named.has(id.toLowerCase())))
    if (items.length === 0) unmatched = true
    for (const item of items) {
      failed.add(item)
      item.failed(
        error.category && INVALID_CATEGORIES.has(error.category)
          ? { status: 'invalid', message: `HubSpot: ${error.message}` }
          : { status: 'retryable', message: `HubSpot: ${error.message}`, retryAfterMs: 1_000 }
      )
    }
  }
  for (const item of chunk) {
    if (failed.has(item)) continue
    const record = result.results.find((candidate) => item.matches(candidate))
    if (record || !unmatched) item.done(record)
    else item.failed({ status: 'retryable', message: 'HubSpot reported errors it did not attribute to records', retryAfterMs: 1_000 })
  }
}
