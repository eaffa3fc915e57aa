import { resolve } from 'node:path'
import { hubspotConfigFromEnv } from '../hubspot/api'
import { Database, openDatabase } from '../server/database'
import { deadLetters, dropDeadLetters, inboxCounts, retryDeadLetters } from '../server/inbox'
import { JsonLog } from '../server/log'
import { migrate } from '../server/migrations'
import { RECEIVERS, SECRET_HEADER } from '../server/receivers'
import { startServer } from '../server/server'
import type { Env } from './hubspot'
import { compileModelSource, InputError, Io, readModelSource } from './io'
import { renderTable } from './table'

const MIN_SECRET_LENGTH = 16
/** The SQLite file when no database is configured: in the working directory, kept across restarts. */
export const DEFAULT_DATABASE = 'pqlkit.sqlite'

/** `--database`, else PQLKIT_DATABASE_URL, else the SQLite file in the working directory. */
function databaseFrom(io: Io, env: Env, option: string | undefined): { db: Database; location: string; where: string } {
  const location = option ?? env.PQLKIT_DATABASE_URL ?? DEFAULT_DATABASE
  const postgres = /^postgres(ql)?:\/\//i.test(location)
  const target = postgres ? location : resolve(io.cwd, location)
  // A Postgres URL's password is never printed.
  const where = postgres ? `PostgreSQL ${location.replace(/\/\/[^@/]*@/, '//')}` : `SQLite ${target}`
  return { db: openDatabase(target), location: target, where }
}

function whole(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InputError(`${name} takes a whole number`)
  return n
}

export type ServeCommandOptions = { model: string; mappings?: string; port?: string; host?: string; database?: string; handoffs?: boolean; 'group-type'?: string }

/** The CLI command: serves until SIGINT or SIGTERM, then finishes the round in flight and exits. */
export async function serveCommand(io: Io, env: Env, options: ServeCommandOptions): Promise<number> {
  const source = readModelSource(io, options.model, options.mappings)
  const model = compileModelSource(source)
  const secret = env.PQLKIT_SERVE_SECRET ?? ''
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new InputError(
      `set PQLKIT_SERVE_SECRET to a shared secret of at least ${MIN_SECRET_LENGTH} characters (PostHog and RudderStack send it in the ${SECRET_HEADER} header, Segment signs with it)`
    )
  }
  const port = whole(options.port ?? env.PQLKIT_PORT, '--port', 8787)
  if (port > 65_535) throw new InputError('--port takes a port number')
  const hubspot = hubspotConfigFromEnv(env)
  if (!hubspot) throw new InputError('set HUBSPOT_ACCESS_TOKEN (a private app token), and HUBSPOT_BASE_URL to use another base URL such as the emulator')
  const { db, location, where } = databaseFrom(io, env, options.database)
  const log = new JsonLog(io.stderr)
  const running = await startServer({
    db,
    model,
    secret,
    port,
    hostname: options.host ?? env.PQLKIT_HOST,
    groupType: options['group-type'],
    log,
    thread: {
      database: location,
      model: source,
      hubspot,
      handoffs:
        options.handoffs === true
          ? { portalId: env.HUBSPOT_PORTAL_ID ? Number(env.HUBSPOT_PORTAL_ID) : undefined, allowedHosts: env.PQLKIT_SLACK_HOSTS?.split(',').map((host) => host.trim()) }
          : undefined,
      batchSize: whole(env.PQLKIT_BATCH_SIZE, 'PQLKIT_BATCH_SIZE', 5000) || 5000,
      gatherMs: whole(env.PQLKIT_GATHER_MS, 'PQLKIT_GATHER_MS', 1000),
      sweepIntervalMs: whole(env.PQLKIT_SWEEP_INTERVAL_SECONDS, 'PQLKIT_SWEEP_INTERVAL_SECONDS', 3600) * 1000
    }
  })
  log.info('listening', { url: running.url, database: where, routes: RECEIVERS.map((receiver) => receiver.path).join(' ') })
  io.stdout.write(`pqlkit serve: listening on ${running.url} (${where})\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  log.info('stopping: finishing the round in flight')
  await running.close()
  io.stdout.write('pqlkit serve: stopped\n')
  return 0
}

export type InboxCommandOptions = { database?: string; json?: boolean }

/** `pqlkit inbox [list|retry|drop] [ids…]`: the server's dead letters, and the inbox's counts. */
export async function inboxCommand(io: Io, env: Env, action: string, ids: string[], options: InboxCommandOptions): Promise<number> {
  if (!['list', 'retry', 'drop'].includes(action)) throw new InputError(`unknown inbox action "${action}": list, retry or drop`)
  const chosen = ids.length === 0 ? undefined : ids.map((id) => whole(id, 'a dead letter id', 0))
  const { db } = databaseFrom(io, env, options.database)
  try {
    await migrate(db)
    if (action === 'retry' || action === 'drop') {
      const count = action === 'retry' ? await retryDeadLetters(db, chosen) : await dropDeadLetters(db, chosen)
      const what = action === 'retry' ? 'back in the inbox, processed by the running server' : 'dropped'
      if (options.json) io.stdout.write(`${JSON.stringify({ [action === 'retry' ? 'retried' : 'dropped']: count })}\n`)
      else io.stdout.write(`${count} dead letter${count === 1 ? '' : 's'} ${what}\n`)
      return 0
    }
    const counts = await inboxCounts(db)
    const letters = await deadLetters(db)
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ ...counts, deadLetters: letters.map(({ id, messageId, reason, failedAt }) => ({ id, messageId, reason, failedAt: new Date(failedAt).toISOString() })) })}\n`)
      return 0
    }
    io.stdout.write(`${counts.pending} pending, ${counts.deadLetters} dead letters\n`)
    if (letters.length > 0) {
      io.stdout.write(
        renderTable(
          ['id', 'message id', 'failed at', 'reason'],
          letters.map(({ id, messageId, failedAt, reason }) => [String(id), messageId, new Date(failedAt).toISOString(), reason])
        )
      )
    }
    return 0
  } finally {
    await db.close()
  }
}
