import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { loadModel, progress, renderTable } from '@pqlkit/core'
import { REPO_ROOT } from '../repo-root'
import { pqlkitCalls, segmentHubSpotCalls } from './calls'
import { incremental, naive, prepare } from './engine'
import { rudderstackOverhead, segmentOverhead } from './hosts'
import { backfillCalls } from './backfill'
import { offlineRuns } from './offline'
import { END, referenceStream } from './streams'
import { serverBench, ServerBench } from './server'
import { sustainedThroughput } from './throughput'

const PARTS = ['engine', 'calls', 'throughput', 'hosts', 'offline', 'backfill', 'server'] as const
type Part = (typeof PARTS)[number]

/**
 * `npm run bench`: the measurements of the benchmarks issues, seeded, printed as tables and
 * written to bench/results.json. Not part of `npm test`: timings are never asserted.
 * `npm run bench -- offline engine` runs only those parts and keeps the other sections of
 * bench/results.json as they were.
 */
async function main(): Promise<void> {
  const asked = process.argv.slice(2)
  const unknown = asked.filter((part) => !(PARTS as readonly string[]).includes(part))
  if (unknown.length > 0) throw new Error(`unknown bench part ${unknown.join(', ')}: expected some of ${PARTS.join(', ')}`)
  const parts = new Set<Part>(asked.length === 0 ? PARTS : (asked as Part[]))
  const modelText = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
  const model = loadModel(modelText, 'examples/project-management.yaml')
  const now = Date.parse(END)
  const steps = [
    ...(parts.has('engine') ? ['engine stream', 'engine', 'engine (no codec)', 'naive reference'] : []),
    ...(parts.has('calls') ? ['calls: pqlkit', "calls: Segment's HubSpot destination"] : []),
    ...(parts.has('throughput') ? ['rate-limited throughput'] : []),
    ...(parts.has('hosts') ? ['Segment host overhead', 'RudderStack host overhead'] : []),
    ...(parts.has('offline') ? ['simulate, backtest and DuckDB on 1,000,000 events'] : []),
    ...(parts.has('backfill') ? ['backfill: pqlkit sync of a history'] : []),
    ...(parts.has('server') ? ['pqlkit serve'] : [])
  ]
  const bar = progress(process.stderr, 'bench')
  let done = 0
  const step = async <T>(run: () => T | Promise<T>): Promise<T> => {
    process.stderr.write(`\n${steps[done]}…\n`)
    const value = await run()
    bar.update(++done, steps.length)
    return value
  }
  const resultsFile = join(REPO_ROOT, 'bench', 'results.json')
  const previous = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {}
  const results: Record<string, unknown> = { ...previous, measuredAt: new Date().toISOString(), machine: { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length } }
  const round = (value: number, digits = 0) => Number(value.toFixed(digits))
  const out = process.stdout

  if (parts.has('engine')) {
    const engineStream = await step(() => prepare(referenceStream(10_000, 1_000_000)))
    const engine = await step(() => incremental(model, engineStream, 1000))
    const engineNoCodec = await step(() => incremental(model, engineStream, 1000, { codec: false }))
    const reference = await step(() => naive(model, engineStream, 1000))
    engineStream.length = 0
    results.engine = { incremental: engine, withoutCodec: engineNoCodec, naive: reference, speedupOverNaive: engine.eventsPerSecond / reference.eventsPerSecond }
    out.write('\n1. Engine: 1,000,000 events, 10,000 users over 30 days, host batches of 1,000\n')
    out.write(
      renderTable(
        ['run', 'events/s', 'seconds', 'retained MB', 'peak RSS MB'],
        [
          ['pqlkit (state decoded and encoded per subject per batch)', round(engine.eventsPerSecond), round(engine.seconds, 1), round(engine.retainedMb ?? 0), round(engine.peakRssMb)],
          ['pqlkit, states kept decoded (no codec)', round(engineNoCodec.eventsPerSecond), round(engineNoCodec.seconds, 1), round(engineNoCodec.retainedMb ?? 0), round(engineNoCodec.peakRssMb)],
          ['naive: recompute from raw events (contacts only)', round(reference.eventsPerSecond), round(reference.seconds, 1), round(reference.retainedMb ?? 0), round(reference.peakRssMb)]
        ]
      )
    )
    out.write(`pqlkit is ${round(engine.eventsPerSecond / reference.eventsPerSecond, 1)}× the naive loop\n`)
  }

  const callStream = parts.has('calls') || parts.has('throughput') || parts.has('hosts') || parts.has('server') ? referenceStream(5_000, 100_000) : []
  if (parts.has('calls')) {
    const pqlkit = await step(() => pqlkitCalls(model, callStream, 1000, now))
    const segment = await step(() => segmentHubSpotCalls(callStream, 1000))
    results.calls = { pqlkit, segment, ratio: segment.perThousandEvents / pqlkit.perThousandEvents }
    out.write(`\n2. HubSpot calls per 1,000 events: 100,000 events, 5,000 users, host batches of 1,000\n`)
    const endpoints = [...new Set([...Object.keys(pqlkit.byEndpoint), ...Object.keys(segment.byEndpoint)])].sort()
    out.write(
      renderTable(
        ['endpoint', 'pqlkit', "Segment's HubSpot destination"],
        [
          ...endpoints.map((endpoint) => [endpoint, pqlkit.byEndpoint[endpoint] ?? 0, segment.byEndpoint[endpoint] ?? 0]),
          ['calls in all', pqlkit.calls, segment.calls],
          ['calls per 1,000 events', round(pqlkit.perThousandEvents, 1), round(segment.perThousandEvents, 1)]
        ]
      )
    )
    out.write(`Segment's destination makes ${round(segment.perThousandEvents / pqlkit.perThousandEvents, 1)}× the calls (and refused ${segment.refused} track events without an email)\n`)
  }
  if (parts.has('throughput')) {
    const throughput = await step(() => sustainedThroughput(model, callStream, now, 60))
    results.throughput = throughput
    out.write(`\n3. Sustained throughput at ${throughput.limit.max} calls per ${throughput.limit.intervalMs / 1000} s, ${throughput.limit.latencyMs} ms per call\n`)
    out.write(
      renderTable(
        ['contact updates/s', 'bound', 'of bound', 'calls', '429s (retried)', 'events lost'],
        [[round(throughput.updatesPerSecond, 1), round(throughput.bound, 1), `${round(throughput.ratio * 100)}%`, throughput.calls, throughput.throttled, throughput.lost]]
      )
    )
  }
  if (parts.has('hosts')) {
    const segmentHost = await step(() => segmentOverhead(modelText, callStream.slice(0, 30_000), now))
    const rudderstackHost = await step(() => rudderstackOverhead(modelText, callStream.slice(0, 10_000)))
    results.hosts = { segment: segmentHost, rudderstack: rudderstackHost }
    out.write('\n4. Host overhead per batch (median, HubSpot excluded)\n')
    out.write(
      renderTable(
        ['host', 'batch', 'host ms', 'pipeline ms', 'overhead ms'],
        [segmentHost, rudderstackHost].map((host, index) => [
          index === 0 ? 'Segment performBatch' : 'RudderStack transformation (isolated-vm)',
          host.batchSize,
          round(host.hostMsPerBatch, 1),
          round(host.pipelineMsPerBatch, 1),
          round(host.overheadMsPerBatch, 1)
        ])
      )
    )
  }
  if (parts.has('offline')) {
    const offline = await step(() => offlineRuns(10_000, 1_000_000))
    results.offline = offline
    out.write('\n5. Offline: 1,000,000 events, 10,000 users, each run a process of its own (loading included)\n')
    out.write(
      renderTable(
        ['run', 'events/s', 'seconds', 'peak RSS MB'],
        [
          ['pqlkit simulate --json', round(offline.simulate.eventsPerSecond), round(offline.simulate.seconds, 1), round(offline.simulate.peakRssMb)],
          ['pqlkit backtest (--html)', round(offline.backtest.eventsPerSecond), round(offline.backtest.seconds, 1), round(offline.backtest.peakRssMb)],
          ["DuckDB, one thread: the model's contact signals in SQL", round(offline.duckdb.eventsPerSecond), round(offline.duckdb.seconds, 1), round(offline.duckdb.peakRssMb)]
        ]
      )
    )
    out.write(`simulate takes ${round(offline.ratio, 2)}× DuckDB's time; backtest ${round(offline.backtest.ofSimulate, 2)}× simulate's\n`)
  }
  if (parts.has('backfill')) {
    const backfill = await step(() => backfillCalls(model, referenceStream(10_000, 1_000_000), now))
    results.backfill = backfill
    out.write(`\n6. Backfill: pqlkit sync of ${backfill.events.toLocaleString('en-US')} events into an empty portal, against the floor\n`)
    out.write(
      renderTable(
        ['contacts', 'companies', 'associations', 'calls', 'floor', 'of floor', 'seconds', 'peak RSS MB'],
        [[backfill.contacts, backfill.companies, backfill.associations, backfill.calls, backfill.floor, `${round(backfill.ofFloor, 2)}×`, round(backfill.seconds), round(backfill.peakRssMb)]]
      )
    )
  }
  if (parts.has('server')) {
    const server = await step(() => serverBench(model, callStream))
    results.server = server
    printServer(server)
  }
  bar.stop()
  mkdirSync(join(REPO_ROOT, 'bench'), { recursive: true })
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`)
  out.write('\nwritten to bench/results.json\n')
}

function printServer(server: ServerBench): void {
  const round = (value: number, digits = 0) => Number(value.toFixed(digits))
  const out = process.stdout
  out.write('\n7. pqlkit serve: webhook accept, the server in its own process, one event per request, 10 connections, 10 s\n')
  out.write(
    renderTable(
      ['database', 'requests/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'machine load'],
      server.accept.map((run) => [run.database, round(run.requestsPerSecond), run.p50Ms, run.p99Ms, run.maxMs, run.non2xx, round(run.loadAverage, 1)])
    )
  )
  const { storm } = server
  out.write(
    `a ${storm.seconds}-second HubSpot 429 storm at ${storm.requestsPerSecond} requests/s: ${storm.requests} requests, p50 ${storm.p50Ms} ms, p99 ${storm.p99Ms} ms, max ${storm.maxMs} ms, ` +
      `${storm.non2xx} non-2xx, ${storm.throttled} HubSpot 429s; the inbox drained ${round(storm.catchUpSeconds, 1)} s after HubSpot recovered\n`
  )
  out.write(`HubSpot calls per 1,000 events through the server: ${round(server.calls.perThousandEvents, 1)} (${server.calls.calls} calls for ${server.calls.events} events)\n`)
  const { freshness } = server
  out.write(
    `event → HubSpot freshness at ${freshness.eventsPerSecond} events/s, ${round(freshness.callsPerSecond, 1)} HubSpot calls/s of ${freshness.limit.max / (freshness.limit.intervalMs / 1000)} allowed: ` +
      `p50 ${round(freshness.p50Seconds, 2)} s, p99 ${round(freshness.p99Seconds, 2)} s, max ${round(freshness.maxSeconds, 2)} s over ${freshness.events} events\n`
  )
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`)
  process.exitCode = 1
})
