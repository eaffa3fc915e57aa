import { httpsPostJson } from '../handoff/https-post'
import { hubspotConfigFromEnv } from '../hubspot/api'
import { describeIncompatible } from '../hubspot/bootstrap'
import { officialHubSpotApi } from '../hubspot/client'
import { Transport } from '../hubspot/transport'
import { createPipeline } from '../pipeline/create'
import type { Pipeline } from '../pipeline/sync'
import type { SyncReport } from '../pipeline/write-back'
import type { Model } from '../model/compile'
import { InputError, Io, parseNow, readModel } from './io'
import { readEvents } from './events-file'
import { progress } from './progress'
import { renderTable } from './table'
import type { ProductEvent } from '../engine/event'
import { parseTimestamp } from '../time'

export type Env = Record<string, string | undefined>

/**
 * The pipeline the hosts use, configured from the environment (SPEC §5, §8). `repairOnRead`
 * false for `pqlkit sync`: a backfill reads without the contribution log's history (half the
 * reads); a host's next read or the sweep repairs what a concurrent write overwrote.
 */
export function syncFromEnv(env: Env, model: Model, handoffs: boolean, repairOnRead = true): Pipeline {
  const hubspot = hubspotConfigFromEnv(env)
  if (!hubspot) {
    throw new InputError('set HUBSPOT_ACCESS_TOKEN (a private app token), and HUBSPOT_BASE_URL to use another base URL such as the emulator')
  }
  return createPipeline({
    model,
    api: officialHubSpotApi(hubspot, new Transport()),
    repairOnRead,
    handoffs: handoffs
      ? {
          post: httpsPostJson,
          portalId: env.HUBSPOT_PORTAL_ID ? Number(env.HUBSPOT_PORTAL_ID) : undefined,
          allowedHosts: env.PQLKIT_SLACK_HOSTS?.split(',').map((host) => host.trim()),
          now: () => Date.now()
        }
      : undefined
  })
}

function callSummary(sync: Pipeline): string {
  const { calls, retries, byEndpoint } = sync.api.transport.stats
  return (
    `HubSpot calls: ${calls} (${retries} retries)\n` +
    renderTable(
      ['endpoint', 'calls'],
      Object.entries(byEndpoint)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([endpoint, count]) => [endpoint, count])
    )
  )
}

/** `--json`: the data a command printed as text, as one object on one line. */
const json = (io: Io, value: object) => io.stdout.write(`${JSON.stringify(value)}\n`)

export async function bootstrapCommand(io: Io, env: Env, options: { model: string; mappings?: string; json?: boolean }): Promise<number> {
  const sync = syncFromEnv(env, readModel(io, options.model, options.mappings), false)
  const report = await sync.bootstrap(true, { retireUnused: true })
  if (options.json) {
    json(io, { created: report.created, updated: report.updated, existing: report.existing, incompatible: report.incompatible })
    return 0
  }
  for (const created of report.created) io.stdout.write(`created ${created}\n`)
  for (const updated of report.updated) io.stdout.write(`updated the options of ${updated} to follow the tiers\n`)
  for (const property of report.incompatible) io.stderr.write(`${describeIncompatible(property)}\n`)
  io.stdout.write(`${report.created.length} created, ${report.updated.length} updated, ${report.existing} already there\n`)
  return 0
}

export type SyncCommandOptions = { model: string; mappings?: string; events: string; handoffs?: boolean; now?: string; 'batch-size'?: string; json?: boolean }

/**
 * A batch's HubSpot calls, estimated from its events (per 100 contacts two reads, by email
 * and by userId, and a write; per 100 companies a read and a write): the progress bar's whole.
 */
function plannedCalls(events: ProductEvent[]): number {
  const contacts = new Set(events.map((event) => event.email?.toLowerCase() ?? `user:${event.userId}`)).size
  const companies = new Set(events.map((event) => event.company?.groupId ?? event.company?.domain).filter(Boolean)).size
  return 3 * Math.ceil(contacts / 100) + 2 * Math.ceil(companies / 100)
}

/**
 * `pqlkit sync`: by default the whole file is one batch, replayed as `simulate` does, so each
 * subject is read and written once (a backfill near HubSpot's floor); `--batch-size` bounds the
 * memory instead, at a read and a write of a subject per batch it appears in.
 */
export async function syncCommand(io: Io, env: Env, options: SyncCommandOptions): Promise<number> {
  const model = readModel(io, options.model, options.mappings)
  const now = parseNow(options.now)
  const batchSize = options['batch-size'] === undefined ? Infinity : Number(options['batch-size'])
  if (batchSize !== Infinity && (!Number.isInteger(batchSize) || batchSize < 1)) throw new InputError('--batch-size takes a whole number')
  const file = readEvents(io, options.events)
  for (const error of file.errors) io.stderr.write(`rejected ${options.events}:${error.line}: ${error.message}\n`)
  const lines = [...file.events].sort(
    (a, b) => parseTimestamp(a.event.timestamp) - parseTimestamp(b.event.timestamp) || a.line - b.line
  )
  const sync = syncFromEnv(env, model, options.handoffs === true, false)
  for (const property of (await sync.bootstrap()).incompatible) io.stderr.write(`${describeIncompatible(property)}\n`)
  const bar = progress(io.stderr, 'syncing (HubSpot calls)')
  const stats = sync.api.transport.stats
  const first = stats.calls
  const planned = Math.ceil(lines.length / Math.min(batchSize, lines.length || 1)) * plannedCalls(lines.slice(0, batchSize).map((line) => line.event))
  const ticker = setInterval(() => bar.update(stats.calls - first, Math.max(planned, stats.calls - first)), 250)
  const totals = { ok: 0, invalid: 0, retryable: 0, contacts: 0, companies: 0, handoffs: 0 }
  const problems: string[] = []
  try {
    for (let start = 0; start < lines.length; start += batchSize) {
      const batch = lines.slice(start, start + batchSize)
      const report: SyncReport = await sync.process(
        batch.map((line) => line.event),
        now ?? Date.now()
      )
      report.results.forEach((result, index) => {
        totals[result.status]++
        if (result.status !== 'ok') problems.push(`${options.events}:${batch[index].line}: ${result.status}: ${result.message}`)
      })
      totals.contacts += report.written.contacts
      totals.companies += report.written.companies
      totals.handoffs += report.handoffs.filter((handoff) => handoff.sent).length
      problems.push(...report.problems)
    }
  } finally {
    clearInterval(ticker)
  }
  bar.update(stats.calls - first, stats.calls - first)
  bar.stop()
  for (const problem of problems) io.stderr.write(`${problem}\n`)
  const invalid = totals.invalid + file.errors.length
  if (options.json) {
    json(io, {
      events: { synced: totals.ok, invalid, retryable: totals.retryable },
      writes: { contacts: totals.contacts, companies: totals.companies },
      handoffs: totals.handoffs,
      problems,
      calls: sync.api.transport.stats
    })
  } else {
    io.stdout.write(
      `${totals.ok} events synced, ${invalid} invalid, ${totals.retryable} to retry; ` +
        `${totals.contacts} contact and ${totals.companies} company writes; ${totals.handoffs} hand-offs sent\n`
    )
    io.stdout.write(callSummary(sync))
  }
  if (totals.retryable > 0) io.stderr.write('re-run the same command to retry: processed events are never counted twice\n')
  return invalid + totals.retryable > 0 ? 1 : 0
}

export async function sweepCommand(
  io: Io,
  env: Env,
  options: { model: string; mappings?: string; now?: string; handoffs?: boolean; horizon?: string; json?: boolean }
): Promise<number> {
  const sync = syncFromEnv(env, readModel(io, options.model, options.mappings), options.handoffs === true)
  const bar = progress(io.stderr, 'sweeping')
  const horizonDays = options.horizon === undefined ? undefined : Number.parseInt(options.horizon, 10)
  const report = await sync.sweep(parseNow(options.now) ?? Date.now(), {
    horizonDays,
    onPage: (examined, total) => bar.update(examined, Math.max(total, examined))
  })
  bar.stop()
  for (const problem of report.problems) io.stderr.write(`${problem}\n`)
  if (options.json) {
    json(io, { examined: report.examined, changed: report.changed, problems: report.problems, calls: sync.api.transport.stats })
    return 0
  }
  io.stdout.write(`${report.examined} subjects re-evaluated, ${report.changed} written\n`)
  io.stdout.write(callSummary(sync))
  return 0
}

/**
 * `pqlkit apply`: the model change made. Reconciles the portal with the new model (properties
 * created, tier options changed, incompatible ones named), then re-evaluates every stored
 * subject under it: a sweep with no horizon.
 */
export async function applyCommand(
  io: Io,
  env: Env,
  options: { model: string; mappings?: string; now?: string; handoffs?: boolean; json?: boolean }
): Promise<number> {
  const sync = syncFromEnv(env, readModel(io, options.model, options.mappings), options.handoffs === true)
  const reconciled = await sync.bootstrap(true, { retireUnused: true })
  for (const property of reconciled.incompatible) io.stderr.write(`${describeIncompatible(property)}\n`)
  const bar = progress(io.stderr, 're-evaluating')
  const report = await sync.sweep(parseNow(options.now) ?? Date.now(), {
    horizonDays: Number.POSITIVE_INFINITY,
    onPage: (examined, total) => bar.update(examined, Math.max(total, examined))
  })
  bar.stop()
  for (const problem of report.problems) io.stderr.write(`${problem}\n`)
  if (options.json) {
    json(io, { created: reconciled.created, updated: reconciled.updated, incompatible: reconciled.incompatible, examined: report.examined, changed: report.changed })
    return 0
  }
  io.stdout.write(
    `${reconciled.created.length} properties created, ${reconciled.updated.length} updated; ` +
      `${report.examined} subjects re-evaluated under ${JSON.stringify(sync.model.name)}, ${report.changed} written\n`
  )
  io.stdout.write(callSummary(sync))
  return 0
}
