import { randomUUID } from 'node:crypto'
import BetterSqlite3 from 'better-sqlite3'
import { Pool, PoolClient, types } from 'pg'

/**
 * The server's database: SQLite embedded (one file, the default) or PostgreSQL. Statements
 * are written once, with `?` placeholders, in the SQL both understand (`INSERT … ON CONFLICT`,
 * `RETURNING`); Postgres gets them numbered. Integers that hold milliseconds are BIGINT and
 * come back as numbers from both.
 */
export type Row = Record<string, unknown>

export interface Sql {
  all<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>
  /** The number of rows changed. */
  run(sql: string, params?: unknown[]): Promise<number>
}

export interface Database extends Sql {
  readonly kind: 'sqlite' | 'postgres'
  /** Runs `work` in one transaction: all of it is committed, or none of it. */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T>
  /**
   * Runs `work` while this process holds the drain lease: one process at a time drains the
   * inbox, so every subject is serialised across processes. Returns undefined, at once, when
   * another process holds it. The lease goes with the process (a Postgres session lock).
   */
  withLease<T>(work: () => Promise<T>): Promise<T | undefined>
  close(): Promise<void>
}

/** Where a URL or path points: `postgres://…`/`postgresql://…` is Postgres, anything else a SQLite file. */
export function openDatabase(location: string): Database {
  return /^postgres(ql)?:\/\//i.test(location) ? new PostgresDatabase(location) : new SqliteDatabase(location)
}

/** `?` placeholders numbered for Postgres (no statement here has a `?` inside a literal). */
function numbered(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

/** How long a SQLite drain lease lasts unless renewed (a process that died gives it up this late). */
const SQLITE_LEASE_MS = 30_000

class SqliteDatabase implements Database {
  readonly kind = 'sqlite' as const
  private readonly db: BetterSqlite3.Database
  /** One connection: transactions take turns (better-sqlite3 is synchronous; `work` may await). */
  private turn: Promise<unknown> = Promise.resolve()
  private leased = false
  private readonly owner = randomUUID()

  constructor(file: string) {
    this.db = new BetterSqlite3(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma('busy_timeout = 5000')
  }

  /** Prepared once per statement text (most are the same few statements, over and over). */
  private readonly statements = new Map<string, BetterSqlite3.Statement>()

  private statement(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      if (this.statements.size >= 200) this.statements.clear()
      this.statements.set(sql, statement)
    }
    return statement
  }

  async all<T extends Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.turn
    return this.statement(sql).all(...params) as T[]
  }

  async run(sql: string, params: unknown[] = []): Promise<number> {
    await this.turn
    return this.statement(sql).run(...params).changes
  }

  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const inside: Sql = {
      all: async <R extends Row>(sql: string, params: unknown[] = []) => this.statement(sql).all(...params) as R[],
      run: async (sql: string, params: unknown[] = []) => this.statement(sql).run(...params).changes
    }
    const run = this.turn.then(async () => {
      this.db.exec('BEGIN IMMEDIATE')
      try {
        const result = await work(inside)
        this.db.exec('COMMIT')
        return result
      } catch (error) {
        this.db.exec('ROLLBACK')
        throw error
      }
    })
    this.turn = run.catch(() => undefined)
    return run
  }

  /**
   * SQLite is one process's database; should two processes share the file anyway, a lease
   * row (renewed while the round runs, taken over once it expires) keeps their drains apart.
   */
  async withLease<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (this.leased || !(await this.claim())) return undefined
    this.leased = true
    const renewal = setInterval(() => this.claim().catch(() => undefined), SQLITE_LEASE_MS / 4)
    try {
      return await work()
    } finally {
      clearInterval(renewal)
      this.leased = false
    }
  }

  private async claim(): Promise<boolean> {
    const now = Date.now()
    const changed = await this.run(
      `INSERT INTO pqlkit_lease (name, owner, expires_at) VALUES ('drain', ?, ?)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE pqlkit_lease.owner = excluded.owner OR pqlkit_lease.expires_at < ?`,
      [this.owner, now + SQLITE_LEASE_MS, now]
    )
    return changed > 0
  }

  async close(): Promise<void> {
    await this.turn
    if (this.db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'pqlkit_lease'`).get()) {
      this.db.prepare(`UPDATE pqlkit_lease SET expires_at = 0 WHERE owner = ?`).run(this.owner)
    }
    this.db.close()
  }
}

/** The advisory lock key of the drain lease ("pqlkit" in ASCII). */
const LEASE_KEY = 0x70716c6b6974

class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const
  private readonly pool: Pool

  constructor(url: string) {
    // BIGINT (milliseconds, counts) as numbers: pqlkit's stay far inside 2^53.
    const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
      oid === types.builtins.INT8 ? (value: string) => Number(value) : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser
    this.pool = new Pool({ connectionString: url, max: 10, types: { getTypeParser } })
    // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined)
  }

  async all<T extends Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(numbered(sql), params)).rows as T[]
  }

  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.pool.query(numbered(sql), params)).rowCount ?? 0
  }

  async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(clientSql(client))
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }

  async withLease<T>(work: () => Promise<T>): Promise<T | undefined> {
    const client = await this.pool.connect()
    let held = false
    try {
      held = (await client.query('SELECT pg_try_advisory_lock($1) AS held', [LEASE_KEY])).rows[0].held === true
      if (!held) return undefined
      return await work()
    } finally {
      // A client whose unlock failed is closed, not pooled: closing its session gives the lease back.
      const unlocked = !held || (await client.query('SELECT pg_advisory_unlock($1)', [LEASE_KEY]).then(() => true, () => false))
      client.release(!unlocked)
    }
  }

  close(): Promise<void> {
    return this.pool.end()
  }
}

function clientSql(client: PoolClient): Sql {
  return {
    all: async <T extends Row>(sql: string, params: unknown[] = []) => (await client.query(numbered(sql), params)).rows as T[],
    run: async (sql: string, params: unknown[] = []) => (await client.query(numbered(sql), params)).rowCount ?? 0
  }
}
