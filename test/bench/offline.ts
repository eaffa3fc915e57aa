import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { generateOutcomes } from '@pqlkit/core'
import { REPO_ROOT } from '../repo-root'
import { END, referenceStream } from './streams'

/**
 * `pqlkit simulate` and `pqlkit backtest` on a million events, and the same contact signals
 * computed by DuckDB from the same JSON Lines file. Each runs in a process of its own, as a
 * user runs it (loading and parsing included), so its time and peak memory are its own.
 */

export type ProcessRun = { seconds: number; eventsPerSecond: number; peakRssMb: number }

export type OfflineResults = {
  events: number
  users: number
  simulate: ProcessRun
  backtest: ProcessRun & { ofSimulate: number }
  duckdb: ProcessRun & { contacts: number }
  /** simulate's time over DuckDB's: at most 1.0 is the target. */
  ratio: number
}

const MODEL = join(REPO_ROOT, 'examples/project-management.yaml')
const PQLKIT = join(REPO_ROOT, 'core/bin/pqlkit.js')

/** Runs `node args…` under /usr/bin/time: wall seconds and peak RSS of that process alone. */
function measured(events: number, args: string[]): ProcessRun {
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-bench-time-'))
  const report = join(dir, 'time')
  try {
    const run = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', report, process.execPath, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 1024 * 1024
    })
    if (run.status !== 0) throw new Error(`${args.join(' ')} exited ${run.status}: ${run.stderr.toString().slice(-2000)}`)
    const [seconds, kilobytes] = readFileSync(report, 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
    return { seconds, eventsPerSecond: events / seconds, peakRssMb: kilobytes / 1000 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The example model's contact signals in SQL: a contact is its email, else the email its
 * userId was seen with, else the userId; duplicates of a message id count once; windows end
 * at the latest event's UTC day, as pqlkit's do.
 */
export const CONTACT_SIGNALS_SQL = (file: string) => `
WITH raw AS (
  SELECT * FROM read_json('${file.replace(/'/g, "''")}', format = 'newline_delimited', columns = {
    type: 'VARCHAR', messageId: 'VARCHAR', timestamp: 'TIMESTAMP', userId: 'VARCHAR', event: 'VARCHAR',
    traits: 'STRUCT(email VARCHAR, plan VARCHAR)', properties: 'STRUCT(integration VARCHAR, calls DOUBLE, email VARCHAR)',
    context: 'STRUCT(traits STRUCT(email VARCHAR))'
  })
),
events AS (
  SELECT *, lower(trim(coalesce(traits.email, context.traits.email, properties.email))) AS email
  FROM raw QUALIFY row_number() OVER (PARTITION BY messageId) = 1
),
emails AS (SELECT userId, min(email) AS email FROM events WHERE email IS NOT NULL AND userId IS NOT NULL GROUP BY userId),
keyed AS (SELECT e.*, coalesce(e.email, emails.email, 'user:' || e.userId) AS contact FROM events e LEFT JOIN emails USING (userId)),
bounds AS (SELECT date_trunc('day', max(timestamp)) AS today FROM keyed)
SELECT
  contact,
  bool_or(type = 'track' AND event = 'Project Created') AS has_activated,
  min(timestamp) FILTER (type = 'track' AND event = 'Project Created') AS activation_date,
  count(*) FILTER (type = 'track' AND event = 'Project Created') AS projects_created,
  count(*) FILTER (type = 'track' AND event = 'Task Created') AS tasks_created,
  count(*) FILTER (type = 'track' AND event = 'Teammate Invited') AS teammates_invited,
  count(DISTINCT properties.integration) FILTER (type = 'track' AND event = 'Integration Connected') AS integrations_connected,
  coalesce(sum(properties.calls) FILTER (type = 'track' AND event = 'API Call' AND timestamp >= (SELECT today FROM bounds) - INTERVAL 6 DAY), 0) AS api_calls_l7d,
  count(DISTINCT date_trunc('day', timestamp)) FILTER (type = 'track' AND timestamp >= (SELECT today FROM bounds) - INTERVAL 29 DAY) AS days_active_l30d,
  bool_or(type = 'track' AND event IN ('Automation Created', 'Advanced Filter Used')) AS used_paid_feature,
  max(timestamp) FILTER (type = 'track') AS last_product_activity,
  arg_max(traits.plan, timestamp) FILTER (type = 'identify' AND traits.plan IS NOT NULL) AS plan
FROM keyed GROUP BY contact
`

/** Run as a child by `duckdbRun`: one thread, the query over the file, the rows counted. */
export async function duckdbSignals(file: string): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  await connection.run('SET threads = 1')
  const reader = await connection.runAndReadAll(CONTACT_SIGNALS_SQL(file))
  return reader.getRows().length
}

export function offlineRuns(users: number, events: number): OfflineResults {
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-bench-offline-'))
  try {
    const eventsFile = join(dir, 'events.jsonl')
    writeFileSync(eventsFile, referenceStream(users, events).map((message) => `${JSON.stringify(message)}\n`).join(''))
    const outcomesFile = join(dir, 'outcomes.csv')
    const { outcomes } = generateOutcomes({ profile: 'project-management', users, days: 30, end: END, seed: 7 })
    writeFileSync(outcomesFile, ['email,converted_at', ...outcomes.map((outcome) => `${outcome.email},${outcome.convertedAt ?? ''}`), ''].join('\n'))

    const heap = '--max-old-space-size=6144'
    const simulate = measured(events, [heap, PQLKIT, 'simulate', '--model', MODEL, '--events', eventsFile, '--json'])
    const backtest = measured(events, [heap, PQLKIT, 'backtest', '--model', MODEL, '--events', eventsFile, '--outcomes', outcomesFile, '--html', join(dir, 'report.html')])
    const counted = join(dir, 'contacts')
    const duckdb = measured(events, [
      '-e',
      `require(${JSON.stringify(join(__dirname, 'offline.js'))}).duckdbSignals(${JSON.stringify(eventsFile)}).then((n) => require('node:fs').writeFileSync(${JSON.stringify(counted)}, String(n)))`
    ])
    return {
      events,
      users,
      simulate,
      backtest: { ...backtest, ofSimulate: backtest.seconds / simulate.seconds },
      duckdb: { ...duckdb, contacts: Number(readFileSync(counted, 'utf8')) },
      ratio: simulate.seconds / duckdb.seconds
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
