import type { ObjectType } from '../hubspot/properties'
import type { Pipeline } from '../pipeline/sync'
import type { Database } from './database'
import { enqueueHandoffs, OutboxCollector } from './handoffs'
import { commitSubjects, DatabaseStateStore, storedFromRow } from './subject-store'

const PAGE = 100

export type DatabaseSweepParts = { db: Database; pipeline: Pipeline; store: DatabaseStateStore; outbox: OutboxCollector }

/**
 * The sweep inside the server (SPEC §4), under the drain's lease: pages of the subjects
 * active within the horizon, from the database (no HubSpot search), re-evaluated with no
 * events; what changed is written, and each page's states and fired hand-offs are committed
 * together. Undefined when another process holds the lease.
 */
export async function sweepDatabase(parts: DatabaseSweepParts, now: number, horizonDays: number): Promise<{ examined: number; changed: number } | undefined> {
  const { db, pipeline, store, outbox } = parts
  const since = Number.isFinite(horizonDays) ? now - horizonDays * 86_400_000 : 0
  return db.withLease(async () => {
    const totals = { examined: 0, changed: 0 }
    for (const [objectType, table, key] of [
      ['contacts', 'contacts', 'record_id'],
      ['companies', 'companies', 'company_key']
    ] as [ObjectType, string, string][]) {
      if (objectType === 'companies' && !pipeline.model.company) continue
      let after = ''
      for (;;) {
        const rows = await db.all(`SELECT * FROM ${table} WHERE last_event_at >= ? AND ${key} > ? ORDER BY ${key} LIMIT ?`, [since, after, PAGE])
        if (rows.length === 0) break
        after = String(rows[rows.length - 1][key])
        store.take()
        outbox.take()
        const report = await pipeline.sweepStored(objectType, rows.map((row) => storedFromRow(objectType, row)), now)
        const settled = store.take().filter((subject) => !subject.failed)
        const intents = outbox.take()
        await db.transaction(async (sql) => {
          await commitSubjects(sql, settled)
          await enqueueHandoffs(sql, intents, settled, now)
        })
        totals.examined += rows.length
        totals.changed += report.written.contacts + report.written.companies
        if (rows.length < PAGE) break
      }
    }
    return totals
  })
}
