import type { Database } from './database'

/**
 * The server's schema, one migration per version, applied in order at start-up inside one
 * transaction each and recorded in `pqlkit_migrations`; a migration is never edited once
 * released, a change is a new one. Written for both SQLite and PostgreSQL: `id` columns differ.
 */
type Migration = { version: number; name: string; statements: (kind: Database['kind']) => string[] }

const serial = (kind: Database['kind']) => (kind === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT')

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'inbox, subjects, dead letters, outbox',
    statements: (kind) => [
      // One row per accepted event; `message_id` is the dedup key (Segment messageId, PostHog uuid).
      `CREATE TABLE inbox (
        id ${serial(kind)},
        message_id TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        subject TEXT NOT NULL,
        event_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        event TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        processed_at BIGINT,
        error TEXT
      )`,
      `CREATE INDEX inbox_pending ON inbox (status, event_at)`,
      `CREATE INDEX inbox_subject ON inbox (subject, status)`,
      // A contact's state, its HubSpot record id and the values HubSpot holds (as last written).
      `CREATE TABLE contacts (
        record_id TEXT PRIMARY KEY,
        email TEXT,
        user_id TEXT,
        state TEXT NOT NULL,
        properties TEXT NOT NULL,
        last_event_at BIGINT
      )`,
      `CREATE INDEX contacts_email ON contacts (email)`,
      `CREATE INDEX contacts_user_id ON contacts (user_id)`,
      `CREATE TABLE companies (
        company_key TEXT PRIMARY KEY,
        record_id TEXT NOT NULL,
        state TEXT NOT NULL,
        properties TEXT NOT NULL,
        last_event_at BIGINT
      )`,
      `CREATE TABLE dead_letters (
        inbox_id BIGINT PRIMARY KEY,
        message_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        failed_at BIGINT NOT NULL
      )`,
      // Hand-offs to send, written in the transaction that commits the state that fired them.
      `CREATE TABLE outbox (
        id ${serial(kind)},
        intent TEXT NOT NULL,
        contact TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        sent_at BIGINT,
        error TEXT
      )`,
      `CREATE INDEX outbox_pending ON outbox (status, next_at)`,
      // SQLite's drain lease (PostgreSQL uses an advisory lock instead).
      `CREATE TABLE pqlkit_lease (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL)`
    ]
  },
  {
    version: 2,
    name: "outbox: each hand-off's progress by part",
    statements: () => [
      // Committed before the first attempt: a later attempt looks for the task before creating it, and dates it from this.
      `ALTER TABLE outbox ADD COLUMN attempted_at BIGINT`,
      // Committed right after Slack answered 2xx.
      `ALTER TABLE outbox ADD COLUMN slack_sent_at BIGINT`,
      // Committed right after the task was created (or found).
      `ALTER TABLE outbox ADD COLUMN task_id TEXT`
    ]
  }
]

/** Brings the schema up to date; processes starting together take turns (a Postgres transaction lock; SQLite's BEGIN IMMEDIATE). */
export async function migrate(db: Database): Promise<number[]> {
  const applied: number[] = []
  for (const migration of MIGRATIONS) {
    const done = await db.transaction(async (sql) => {
      if (db.kind === 'postgres') await sql.all(`SELECT pg_advisory_xact_lock(7071)`)
      await sql.run(`CREATE TABLE IF NOT EXISTS pqlkit_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
      const rows = await sql.all(`SELECT version FROM pqlkit_migrations WHERE version = ?`, [migration.version])
      if (rows.length > 0) return false
      for (const statement of migration.statements(db.kind)) await sql.run(statement)
      await sql.run(`INSERT INTO pqlkit_migrations (version, name, applied_at) VALUES (?, ?, ?)`, [migration.version, migration.name, Date.now()])
      return true
    })
    if (done) applied.push(migration.version)
  }
  return applied
}
