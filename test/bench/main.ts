import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { loadModel, progress, renderTable } from '@pqlkit/core'
import { REPO_ROOT } from '../repo-root'
import { backfillCalls } from './backfill'
import { pqlkitCalls, segmentHubSpotCalls } from './calls'
import { incremental, naive, prepare } from './engine'
import { rudderstackOverhead, segmentOverhead } from './hosts'
import { END, referenceStream } from './streams'
import { serverBench, ServerBench } from './server'
import { sustainedThroughput } from './throughput'

/**
 * `npm run bench`: the four measurements of the benchmarks issue, seeded, printed as a table
 * and written to bench/results.json. Not part of `npm test`: timings are never asserted.
 */
async function main(): Promise<void> {
  const modelText = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
  const model = loadModel(modelText, 'examples/project-management.yaml')
  const now = Date.parse(END)
  // `PQLKIT_BENCH=server npm run bench`: only the server's figures, merged into bench/results.json.
  if (process.env.PQLKIT_BENCH === 'server') {
    const server = await serverBench(model, referenceStream(5_000, 100_000))
    const file = join(REPO_ROOT, 'bench', 'results.json')
    const previous = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
    writeFileSync(file, `${JSON.stringify({ ...previous, server }, null, 2)}\n`)
    printServer(server)
    return
  }
  const steps = ['engine stream', 'engine', 'engine (no codec)', 'naive reference', 'calls: pqlkit', "calls: Segment's HubSpot destination", 'rate-limited throughput', 'Segment host overhead', 'RudderStack host overhead', 'backfill: pqlkit sync of a history', 'pqlkit serve']
  const bar = progress(process.stderr, 'bench')
  let done = 0
  const step = async <T>(run: () => T | Promise<T>): Promise<T> => {
    process.stderr.write(`\n${steps[done]}…\n`)
    const value = await run()
    bar.update(++done, steps.length)
    return value
  }

  const engineStream = await step(() => prepare(referenceStream(10_000, 1_000_000)))
  const engine = await step(() => incremental(model, engineStream, 1000))
  const engineNoCodec = await step(() => incremental(model, engineStream, 1000, { codec: false }))
  const reference = await step(() => naive(model, engineStream, 1000))
  engineStream.length = 0

  const callStream = referenceStream(5_000, 100_000)
  const pqlkit = await step(() => pqlkitCalls(model, callStream, 1000, now))
  const segment = await step(() => segmentHubSpotCalls(callStream, 1000))
  const throughput = await step(() => sustainedThroughput(model, callStream, now, 60))
  const segmentHost = await step(() => segmentOverhead(modelText, callStream.slice(0, 30_000), now))
  const rudderstackHost = await step(() => rudderstackOverhead(modelText, callStream.slice(0, 10_000)))
  const backfill = await step(() => backfillCalls(model, referenceStream(10_000, 1_000_000), now))
  const server = await step(() => serverBench(model, callStream))
  bar.stop()

  const results = {
    measuredAt: new Date().toISOString(),
    machine: { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length },
    engine: { incremental: engine, withoutCodec: engineNoCodec, naive: reference, speedupOverNaive: engine.eventsPerSecond / reference.eventsPerSecond },
    calls: { pqlkit, segment, ratio: segment.perThousandEvents / pqlkit.perThousandEvents },
    throughput,
    hosts: { segment: segmentHost, rudderstack: rudderstackHost },
    backfill,
    server
  }
  mkdirSync(join(REPO_ROOT, 'bench'), { recursive: true })
  writeFileSync(join(REPO_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`)

  const round = (value: number, digits = 0) => Number(value.toFixed(digits))
  const out = process.stdout
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
  out.write(`pqlkit is ${round(results.engine.speedupOverNaive, 1)}× the naive loop\n`)
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
  out.write(`Segment's destination makes ${round(results.calls.ratio, 1)}× the calls (and refused ${segment.refused} track events without an email)\n`)
  out.write(`\n3. Sustained throughput at ${throughput.limit.max} calls per ${throughput.limit.intervalMs / 1000} s, ${throughput.limit.latencyMs} ms per call\n`)
  out.write(
    renderTable(
      ['contact updates/s', 'bound', 'of bound', 'calls', '429s (retried)', 'events lost'],
      [[round(throughput.updatesPerSecond, 1), round(throughput.bound, 1), `${round(throughput.ratio * 100)}%`, throughput.calls, throughput.throttled, throughput.lost]]
    )
  )
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
  out.write(`\n5. Backfill: pqlkit sync of ${backfill.events.toLocaleString('en-US')} events into an empty portal, against the floor\n`)
  out.write(
    renderTable(
      ['contacts', 'companies', 'associations', 'calls', 'floor', 'of floor', 'seconds', 'peak RSS MB'],
      [[backfill.contacts, backfill.companies, backfill.associations, backfill.calls, backfill.floor, `${round(backfill.ofFloor, 2)}×`, round(backfill.seconds), round(backfill.peakRssMb)]]
    )
  )
  printServer(server)
  out.write('\nwritten to bench/results.json\n')
}

function printServer(server: ServerBench): void {
  const round = (value: number, digits = 0) => Number(value.toFixed(digits))
  const out = process.stdout
  out.write('\n5. pqlkit serve: webhook accept, the server in its own process, one event per request, 10 connections, 10 s\n')
  out.write(
    renderTable(
      ['database', 'requests/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'machine load'],
      server.accept.map((run) => [run.database, round(run.requestsPerSecond), run.p50Ms, run.p99Ms, run.maxMs, run.non2xx, round(run.loadAverage, 1)])
    )
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
