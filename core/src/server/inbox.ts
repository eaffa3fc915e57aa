import { ValidationError } from '../engine/errors'
import { ProductEvent, validateEvent, ValidEvent } from '../engine/event'
import type { Database, Sql } from './database'

/** One event of a request: a ProductEvent, or why it could not be read (`where` names it). */
export type Received = { where: string; event?: ProductEvent; error?: string; skipped?: string }

export type Acceptance = {
  accepted: number
  duplicates: number
  skipped: { index: number; where: string; reason: string }[]
  rejected: { index: number; where: string; error: string }[]
}

/** The subject an event is serialised under: its contact (email, else userId), else its company. */
export function subjectOf(event: ValidEvent): string {
  if (event.email) return `contact:${event.email}`
  if (event.userId) return `user:${event.userId}`
  return `company:${event.company?.groupId ?? event.company?.domain ?? ''}`
}

type Row = [messageId: string, subject: string, at: number, event: string]
type Waiting = { rows: Row[]; source: string; now: number; resolve(inserted: number): void; reject(error: unknown): void }

/** Rows per INSERT statement (6 parameters each: well inside SQLite's and Postgres's limits). */
const ROWS_PER_INSERT = 500

/**
 * The durable inbox: a request's readable events are committed before it is answered; an
 * event whose message id is already in the inbox is a duplicate and changes nothing (the
 * unique key decides, across processes too). Requests that arrive while a commit is under
 * way are committed together in the next transaction (a group commit: one disk flush for
 * many requests, and none waits for more than the commit before it).
 */
export class Inbox {
  private queue: Waiting[] = []
  private pumping = false

  constructor(private readonly db: Database) {}

  /** Unreadable events are named and left out; the others are kept. */
  async accept(source: string, received: Received[], now: number): Promise<Acceptance> {
    const result: Acceptance = { accepted: 0, duplicates: 0, skipped: [], rejected: [] }
    const rows: Row[] = []
    received.forEach(({ where, event, error, skipped }, index) => {
      if (skipped !== undefined) return void result.skipped.push({ index, where, reason: skipped })
      if (error !== undefined || event === undefined) return void result.rejected.push({ index, where, error: error ?? 'no event' })
      try {
        const valid = validateEvent(event, now)
        rows.push([valid.messageId, subjectOf(valid), valid.at, JSON.stringify(event)])
      } catch (failure) {
        if (!(failure instanceof ValidationError)) throw failure
        result.rejected.push({ index, where, error: failure.message })
      }
    })
    if (rows.length === 0) return result
    const inserted = await new Promise<number>((resolve, reject) => {
      this.queue.push({ rows, source, now, resolve, reject })
      if (!this.pumping) void this.pump()
    })
    result.accepted = inserted
    result.duplicates = rows.length - inserted
    return result
  }

  private async pump(): Promise<void> {
    this.pumping = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0)
        try {
          const counts = await this.db.transaction(async (sql) => {
            const inserted: number[] = []
            for (const { rows, source, now } of batch) {
              let count = 0
              for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
                const chunk = rows.slice(i, i + ROWS_PER_INSERT)
                count += await sql.run(
                  `INSERT INTO inbox (message_id, source, subject, event_at, received_at, event) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')} ON CONFLICT (message_id) DO NOTHING`,
                  chunk.flatMap(([messageId, subject, at, event]) => [messageId, source, subject, at, now, event])
                )
              }
              inserted.push(count)
            }
            return inserted
          })
          batch.forEach((waiting, index) => waiting.resolve(counts[index]))
        } catch (error) {
          for (const waiting of batch) waiting.reject(error)
        }
        // Requests that arrived during the commit get their turn to join the next one.
        await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      this.pumping = false
    }
  }
}

export type PendingEvent = { id: number; event: ProductEvent; attempts: number; receivedAt: number }

/**
 * The next events to process, oldest event time first: pending and due, of subjects none of
 * whose events is waiting for a retry (so a subject's events are applied in event-time order).
 */
export async function nextPending(sql: Sql, now: number, limit: number): Promise<PendingEvent[]> {
  const rows = await sql.all(
    `SELECT id, event, attempts, received_at FROM inbox i
     WHERE status = 'pending' AND next_at <= ?
       AND NOT EXISTS (SELECT 1 FROM inbox w WHERE w.subject = i.subject AND w.status = 'pending' AND w.next_at > ?)
     ORDER BY event_at, id LIMIT ?`,
    [now, now, limit]
  )
  return rows.map((row) => ({ id: Number(row.id), event: JSON.parse(String(row.event)) as ProductEvent, attempts: Number(row.attempts), receivedAt: Number(row.received_at) }))
}

export type InboxCounts = { pending: number; deadLetters: number; oldestPendingAt?: number }

export async function inboxCounts(sql: Sql): Promise<InboxCounts> {
  const [pending] = await sql.all(`SELECT COUNT(*) AS count, MIN(received_at) AS oldest FROM inbox WHERE status = 'pending'`)
  const [dead] = await sql.all(`SELECT COUNT(*) AS count FROM dead_letters`)
  return {
    pending: Number(pending.count),
    deadLetters: Number(dead.count),
    ...(pending.oldest === null || pending.oldest === undefined ? {} : { oldestPendingAt: Number(pending.oldest) })
  }
}

export type DeadLetter = { id: number; messageId: string; reason: string; failedAt: number; event: ProductEvent }

export async function deadLetters(sql: Sql, limit = 1000): Promise<DeadLetter[]> {
  const rows = await sql.all(
    `SELECT d.inbox_id, d.message_id, d.reason, d.failed_at, i.event FROM dead_letters d JOIN inbox i ON i.id = d.inbox_id ORDER BY d.failed_at, d.inbox_id LIMIT ?`,
    [limit]
  )
  return rows.map((row) => ({
    id: Number(row.inbox_id),
    messageId: String(row.message_id),
    reason: String(row.reason),
    failedAt: Number(row.failed_at),
    event: JSON.parse(String(row.event)) as ProductEvent
  }))
}

/** Dead letters back into the inbox (all, or those ids): processed again by the next drain. */
export function retryDeadLetters(db: Database, ids?: number[]): Promise<number> {
  return db.transaction(async (sql) => {
    const chosen = ids ?? (await sql.all(`SELECT inbox_id FROM dead_letters`)).map((row) => Number(row.inbox_id))
    let count = 0
    for (const id of chosen) {
      if ((await sql.run(`DELETE FROM dead_letters WHERE inbox_id = ?`, [id])) === 0) continue
      await sql.run(`UPDATE inbox SET status = 'pending', next_at = 0, attempts = 0, error = NULL WHERE id = ?`, [id])
      count++
    }
    return count
  })
}

/** Dead letters given up on: gone from the list; their message ids stay known, so a redelivery is still a duplicate. */
export function dropDeadLetters(db: Database, ids?: number[]): Promise<number> {
  return db.transaction(async (sql) => {
    if (ids === undefined) return sql.run(`DELETE FROM dead_letters`)
    let count = 0
    for (const id of ids) count += await sql.run(`DELETE FROM dead_letters WHERE inbox_id = ?`, [id])
    return count
  })
}
