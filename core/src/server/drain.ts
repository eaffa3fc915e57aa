import { HandoffError } from '../handoff/sender'
import type { Pipeline, RecordResult } from '../pipeline/sync'
import type { Database, Sql } from './database'
import { enqueueHandoffs, OutboxCollector, OutboxProgress, OutboxSender } from './handoffs'
import { nextPending, PendingEvent } from './inbox'
import type { DatabaseStateStore } from './subject-store'
import { commitSubjects } from './subject-store'

/**
 * A retry waits 1 s, doubling per attempt, at most 5 minutes (or longer when HubSpot says so):
 * unbounded in time, bounded in rate. Whole milliseconds: PostgreSQL's BIGINT refuses a fraction.
 */
const RETRY_BASE_MS = 1000
const RETRY_MAX_MS = 5 * 60_000

export function retryDelay(attempts: number, retryAfterMs: number, random: () => number = Math.random): number {
  const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts, 20))
  return Math.round(Math.max(retryAfterMs, backoff / 2 + random() * (backoff / 2)))
}

export type RoundReport = { events: number; ok: number; invalid: number; retryable: number; throttledMs?: number; lagMs: number[]; problems: string[] }

export type DrainParts = { db: Database; pipeline: Pipeline; store: DatabaseStateStore; outbox: OutboxCollector; batchSize: number }

/**
 * One drain round, under the lease: the oldest due events (up to `batchSize`, every subject's
 * burst coalesced into one pipeline batch and one write), then one transaction that commits
 * the subjects HubSpot took, marks the events that went through processed, dead-letters the
 * rejected ones, schedules the retryable ones and puts the fired hand-offs in the outbox.
 * Undefined when another process holds the lease. `now` is the time the model evaluates at,
 * `due` the schedule's (retries become due by it): the same wall clock, but for tests that pin
 * the model's time.
 */
export async function drainRound(parts: DrainParts, now: number, due = now): Promise<RoundReport | undefined> {
  return parts.db.withLease(async () => {
    const pending = await nextPending(parts.db, due, parts.batchSize)
    const report: RoundReport = { events: pending.length, ok: 0, invalid: 0, retryable: 0, lagMs: [], problems: [] }
    if (pending.length === 0) return report
    parts.store.take()
    parts.outbox.take()
    const sync = await parts.pipeline.process(
      pending.map(({ event }) => event),
      now
    )
    const settled = parts.store.take()
    const intents = parts.outbox.take()
    // Every subject HubSpot took is committed, whatever became of the round's other subjects:
    // an event retried for another of its subjects is a duplicate here (its id is in the
    // state), so a company keeps the events of its contacts that landed.
    const committed = settled.filter((subject) => !subject.failed)
    await parts.db.transaction(async (sql) => {
      await commitSubjects(sql, committed)
      await enqueueHandoffs(sql, intents, committed, due)
      await markEvents(sql, pending, sync.results, now, due, report)
    })
    report.problems = sync.problems
    const throttled = sync.results.filter((result): result is Extract<RecordResult, { status: 'retryable' }> => result.status === 'retryable' && result.throttled === true)
    if (throttled.length > 0) report.throttledMs = Math.max(...throttled.map((result) => result.retryAfterMs))
    return report
  })
}

async function markEvents(sql: Sql, pending: PendingEvent[], results: RecordResult[], now: number, due: number, report: RoundReport): Promise<void> {
  const done: number[] = []
  for (const [index, row] of pending.entries()) {
    const result = results[index]
    if (result.status === 'ok') {
      done.push(row.id)
      report.ok++
      report.lagMs.push(now - row.receivedAt)
    } else if (result.status === 'invalid') {
      report.invalid++
      await sql.run(`UPDATE inbox SET status = 'dead', error = ? WHERE id = ?`, [result.message, row.id])
      await sql.run(`INSERT INTO dead_letters (inbox_id, message_id, reason, failed_at) VALUES (?, ?, ?, ?) ON CONFLICT (inbox_id) DO NOTHING`, [
        row.id,
        row.event.messageId,
        result.message,
        now
      ])
    } else {
      report.retryable++
      await sql.run(`UPDATE inbox SET attempts = attempts + 1, next_at = ?, error = ? WHERE id = ?`, [
        due + retryDelay(row.attempts, result.retryAfterMs),
        result.message,
        row.id
      ])
    }
  }
  for (let i = 0; i < done.length; i += 500) {
    const ids = done.slice(i, i + 500)
    await sql.run(`UPDATE inbox SET status = 'done', processed_at = ?, error = NULL WHERE id IN (${ids.map(() => '?').join(', ')})`, [now, ...ids])
  }
}

export type OutboxReport = { sent: number; suppressed: number; failed: number; retrying: number }

/**
 * Sends the outbox's due hand-offs, under the lease (one sender at a time across processes).
 * Each row records its progress as it goes, each step committed on its own: the first
 * attempt's time before any part is sent, the Slack post right after Slack answered 2xx, the
 * task's id right after HubSpot answered; so a retry (after a failure or a crash) sends only
 * the parts not yet done, and looks for a task an earlier attempt may have created before
 * creating it. A row is marked sent once every part landed (or suppressed: its `unless` held
 * before the first attempt); a transient failure waits and tries again, for as long as it
 * takes; a hand-off that can never be sent (a Slack webhook not allow-listed) is marked failed
 * with its reason.
 */
export async function sendOutbox(db: Database, sender: OutboxSender, now: number, due = now, limit = 50): Promise<OutboxReport | undefined> {
  return db.withLease(async () => {
    const report: OutboxReport = { sent: 0, suppressed: 0, failed: 0, retrying: 0 }
    const rows = await db.all(
      `SELECT id, intent, contact, attempts, attempted_at, slack_sent_at, task_id FROM outbox WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT ?`,
      [due, limit]
    )
    for (const row of rows) {
      const progress: OutboxProgress = {
        firstAttemptAt: row.attempted_at === null ? now : Number(row.attempted_at),
        attemptedBefore: row.attempted_at !== null,
        slackSent: row.slack_sent_at !== null,
        taskSent: row.task_id !== null,
        begin: async () => void (await db.run(`UPDATE outbox SET attempted_at = ? WHERE id = ?`, [now, row.id])),
        slackLanded: async () => void (await db.run(`UPDATE outbox SET slack_sent_at = ? WHERE id = ?`, [now, row.id])),
        taskLanded: async (taskId) => void (await db.run(`UPDATE outbox SET task_id = ? WHERE id = ?`, [taskId, row.id]))
      }
      try {
        const result = await sender.send(String(row.intent), String(row.contact), progress)
        await db.run(`UPDATE outbox SET status = ?, sent_at = ?, error = NULL WHERE id = ?`, [result, now, row.id])
        report[result]++
      } catch (error) {
        const message = (error as Error).message
        if (error instanceof HandoffError && !error.transient) {
          await db.run(`UPDATE outbox SET status = 'failed', error = ? WHERE id = ?`, [message, row.id])
          report.failed++
        } else {
          const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs ?? 0
          await db.run(`UPDATE outbox SET attempts = attempts + 1, next_at = ?, error = ? WHERE id = ?`, [due + retryDelay(Number(row.attempts), retryAfterMs), message, row.id])
          report.retrying++
        }
      }
    }
    return report
  })
}
