import { parse } from 'yaml'
import type { SegmentMessage } from '@pqlkit/core'
import type { SegmentEvent } from '@segment/actions-core'
import type { Emulator } from '../../harness/hubspot-emulator'
import { startPostgres } from '../../harness/postgres'
import { startPluginWorkers } from '../../harness/posthog/plugin-workers'
import { hostEnv, Scratch } from '../../harness/processes/host-process'
import { identifiesOf, processorEvent, transformRequest } from '../../harness/rudderstack/data-plane'
import { deliverIdentifies, DestinationReport } from '../../harness/rudderstack/hubspot-destination'
import { startSegmentInstances } from '../../harness/segment/instances'
import { pastedFunction } from '../../harness/segment-function/function'
import { DEFAULT_BATCH, loadFunction, segmentVerdicts } from '../../harness/segment-function/runtime'
import { databaseStates, drained, handedOff, openDatabase, postSegment, ServerProcess, spawnServer, sqliteFile } from '../server/harness'
import { connectTransformation, PROCESSOR_BATCH, rudderstackOutcomes, segmentOutcomes, segmentSubscriptions } from './hosts'
import { toPostHogEvent } from './posthog-hosts'
import { Message, shuffled } from './scenarios'

/** What a concurrent run needs: a fresh emulator (with latency), the model text, the evaluation time, a scratch directory, the schedule's seed. */
export type ConcurrentDelivery = { emulator: Emulator; model: string; now: number; scratch: Scratch; seed: number }

export type ConcurrentReport = {
  /** Rounds of concurrent batches (RudderStack late: batches transformed). */
  rounds: number
  redelivered: number
  /** Events answered with an error rather than a retry: `messageId: error`. */
  refused: string[]
  /**
   * A route that keeps the subjects' states itself (`pqlkit serve`: in its database, swept
   * there on its own schedule; HubSpot's `pqlkit_state` neither read nor written): each state
   * by its HubSpot record id (`RunOutput.states`). Such a run gets no `pqlkit sweep`, which is
   * the in-host routes' (it reads the states from HubSpot).
   */
  states?: Map<string, string>
}

/** A host run the way that host runs concurrently, until nothing is left to re-deliver. */
export type ConcurrentHost = { name: string; deliver(messages: Message[], delivery: ConcurrentDelivery): Promise<ConcurrentReport> }

const MAX_PASSES = 40
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)))

/** A batch's outcomes into the report: a retry goes to `retry`, an error is a refusal. */
function tally(report: ConcurrentReport, retry: Message[], batch: Message[], outcomes: string[]): void {
  batch.forEach((message, index) => {
    if (outcomes[index] === 'retry') retry.push(message)
    else if (outcomes[index] !== 'ok') report.refused.push(`${message.messageId}: ${outcomes[index]}`)
  })
}

/**
 * The seeded schedule that forces the interleaving: the stream in order, cut into windows of
 * `lanes × batchSize` messages; each window shuffled (seeded) and dealt into one batch per
 * lane, so the lanes' batches are about the same people at the same time; all of a round's
 * batches start at the same moment and the round ends when all have answered. What a host is
 * told to retry goes again after the stream, as hosts re-deliver later, in rounds of its own.
 * Whatever the machine's speed, every round's batches overlap: the emulator's latency makes
 * each batch's read-to-write window hundreds of milliseconds long.
 */
export async function inLockstep(
  messages: Message[],
  { lanes, batchSize, seed }: { lanes: number; batchSize: number; seed: number },
  round: (batches: Message[][]) => Promise<string[][]>
): Promise<ConcurrentReport> {
  const report: ConcurrentReport = { rounds: 0, redelivered: 0, refused: [] }
  let pending = messages
  for (let pass = 1; pending.length > 0; pass++) {
    if (pass > MAX_PASSES) throw new Error(`${pending.length} messages still retryable after ${MAX_PASSES} passes`)
    const retry: Message[] = []
    for (let start = 0; start < pending.length; start += lanes * batchSize) {
      const dealt = shuffled(pending.slice(start, start + lanes * batchSize), seed + report.rounds)
      const batches = Array.from({ length: lanes }, (_, lane) => dealt.slice(lane * batchSize, (lane + 1) * batchSize)).filter((batch) => batch.length > 0)
      report.rounds++
      const outcomes = await round(batches)
      batches.forEach((batch, lane) => tally(report, retry, batch, outcomes[lane]))
    }
    report.redelivered += retry.length
    pending = retry
  }
  return report
}

/** Segment: a batch is up to 100 events here (the measured case). */
const SEGMENT_BATCH = 100

/**
 * Segment runs several instances of a destination and delivers concurrently, unordered, at
 * least once: `instances` processes (test/harness/segment), each its own destination, client
 * and bootstrap, each round one `onBatch` per instance at once; records answered 429/5xx
 * go again.
 */
export function segmentInstances(instances: number): ConcurrentHost {
  return {
    name:
      instances === 1
        ? 'Segment: one destination instance (a process), the control: exact without any concurrency'
        : `Segment: ${instances} concurrent performBatch calls, each in a destination instance of its own (a process)`,
    async deliver(messages, { emulator, model, now, scratch, seed }) {
      const running = await startSegmentInstances(instances, hostEnv(now, scratch, { HUBSPOT_BASE_URL: emulator.url }))
      const settings = { accessToken: emulator.accessToken, model, subscriptions: segmentSubscriptions() }
      try {
        return await inLockstep(messages, { lanes: instances, batchSize: SEGMENT_BATCH, seed }, (batches) =>
          Promise.all(batches.map(async (batch, lane) => segmentOutcomes(batch, await running[lane].onBatch(batch as unknown as SegmentEvent[], settings))))
        )
      } finally {
        await Promise.all(running.map((instance) => instance.stop()))
      }
    }
  }
}

/**
 * Segment invokes a Destination Function concurrently, its batches unordered, and retries what
 * a RetryError, a timeout or a 5xx status left. Where each invocation runs Segment does not
 * document; its runtime behaves as AWS Lambda's, taken as the model here: each concurrent
 * invocation in an execution environment of its own, kept warm for later ones (AWS Lambda
 * docs, "Understanding Lambda function scaling": "For each concurrent request, Lambda
 * provisions a separate instance of your execution environment"; segment-docs, functions,
 * "Caching": the environments are "generally long-running", their global variables live
 * between invocations, with no guarantee; docs/reliability.md). So no cache or lock of the
 * Function is shared between concurrent invocations: `invocations` environments, each the
 * built script (the model pasted in) loaded in a context of its own
 * (test/harness/segment-function), each round one `onBatch` of Segment's default 20 events
 * per environment at once.
 */
export function segmentFunctionInvocations(invocations: number): ConcurrentHost {
  return {
    name: `Segment Function: ${invocations} concurrent invocations, each in an execution environment of its own`,
    async deliver(messages, { emulator, model, now, seed }) {
      const code = await pastedFunction(parse(model))
      const environments = Array.from({ length: invocations }, () => loadFunction(code, { now }))
      const settings = { hubspotAccessToken: emulator.accessToken, hubspotBaseUrl: emulator.url, portalId: '123456' }
      return inLockstep(messages, { lanes: invocations, batchSize: DEFAULT_BATCH, seed }, (batches) =>
        Promise.all(batches.map(async (batch, lane) => segmentVerdicts(await environments[lane].invoke('onBatch', batch, settings), batch.length)))
      )
    }
  }
}

/**
 * RudderStack transforms the next batch before its router has delivered the last one: each
 * batch (the processor's 200, in stream order) is transformed in a fresh isolate, and its
 * handed-back identifies reach the HubSpot destination `lateMs` after its transform ended
 * (the router keeps their order), while the next batches are transformed. What the user
 * replays (`rudderstackOutcomes`) goes again once every delivery of the pass is in.
 */
export function rudderstackLateRouter(lateMs: number): ConcurrentHost {
  return {
    name: `RudderStack: the router delivers each batch's identifies ${lateMs / 1000} s late, while the next batch is transformed`,
    async deliver(messages, delivery) {
      const connection = await connectTransformation({ ...delivery, batchSize: PROCESSOR_BATCH })
      const report: ConcurrentReport = { rounds: 0, redelivered: 0, refused: [] }
      let jobId = 0
      try {
        let pending = messages
        for (let pass = 1; pending.length > 0; pass++) {
          if (pass > MAX_PASSES) throw new Error(`${pending.length} messages still to replay after ${MAX_PASSES} passes`)
          let router: Promise<unknown> = Promise.resolve()
          const answered: Promise<{ batch: Message[]; outcomes: string[] }>[] = []
          for (let start = 0; start < pending.length; start += PROCESSOR_BATCH) {
            const batch = pending.slice(start, start + PROCESSOR_BATCH)
            const events = batch.map((message) => processorEvent(message as unknown as Record<string, unknown>, ++jobId))
            const run = await connection.transformer.run(connection.code, events, connection.credentials, connection.run)
            report.rounds++
            const due = performance.now() + lateMs
            const delivered: Promise<DestinationReport> = router.then(() => sleep(due - performance.now())).then(() => deliverIdentifies(connection.hubspot, identifiesOf(run)))
            router = delivered
            answered.push(delivered.then((destination) => ({ batch, outcomes: rudderstackOutcomes(batch, run, destination) })))
          }
          const retry: Message[] = []
          for (const { batch, outcomes } of await Promise.all(answered)) tally(report, retry, batch, outcomes)
          report.redelivered += retry.length
          pending = retry
        }
        return report
      } finally {
        await connection.stop()
      }
    }
  }
}

/**
 * Two sources (say the website's SDK and the backend's) feeding one transformation: the
 * processor sends their events in one request, which the transformer runs in two isolates at
 * the same time (`transformRequest`); then each source's identifies are delivered at once.
 * Each message comes from either source (seeded), so the two isolates see the same people.
 */
export const rudderstackTwoSources: ConcurrentHost = {
  name: 'RudderStack: two sources in one request, transformed in two isolates at the same time',
  async deliver(messages, delivery) {
    const connection = await connectTransformation({ ...delivery, batchSize: PROCESSOR_BATCH })
    let jobId = 0
    try {
      return await inLockstep(messages, { lanes: 2, batchSize: PROCESSOR_BATCH / 2, seed: delivery.seed }, async (batches) => {
        const events = batches.flatMap((batch, lane) => batch.map((message) => processorEvent(message as unknown as Record<string, unknown>, ++jobId, `source-${lane + 1}`)))
        const reports = await transformRequest(connection, events)
        const destinations = await Promise.all(reports.map((run) => deliverIdentifies(connection.hubspot, identifiesOf(run))))
        return batches.map((batch, lane) => rudderstackOutcomes(batch, reports[lane], destinations[lane]))
      })
    } finally {
      await connection.stop()
    }
  }
}

/** The plugin server's ingestion batch here. */
const POSTHOG_BATCH = 50

/**
 * PostHog runs plugins in several worker threads: two threads (test/harness/posthog), each
 * with its own plugin instance, each round one ingested batch per thread at once (its events'
 * `onEvent` all at once, RetryError offered again up to the server's attempts); what is still
 * retryable goes again later.
 */
export const posthogPluginWorkers: ConcurrentHost = {
  name: 'PostHog: two plugin-server worker threads, each with its own plugin instance',
  async deliver(messages, { emulator, model, now, scratch, seed }) {
    const config = { hubspotAccessToken: emulator.accessToken, model: JSON.stringify(parse(model)), hubspotBaseUrl: emulator.url, portalId: '123456' }
    const workers = startPluginWorkers(2, config, hostEnv(now, scratch))
    try {
      return await inLockstep(messages, { lanes: 2, batchSize: POSTHOG_BATCH, seed }, (batches) =>
        Promise.all(
          batches.map(async (batch, lane) =>
            (await workers[lane].deliver(batch.map(toPostHogEvent))).map(({ error }) => (error === undefined ? 'ok' : error.startsWith('RetryError') ? 'retry' : error))
          )
        )
      )
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()))
    }
  }
}

/** Each message's outcome as Segment's Webhooks (Actions) reads an answer: 2xx delivered, 429 and 5xx retried, any other status dropped. */
function webhookOutcomes(batch: Message[], answer: { status: number; body: Record<string, unknown> }): string[] {
  if (answer.status >= 200 && answer.status < 300) return batch.map(() => 'ok')
  if (answer.status === 429 || answer.status >= 500) return batch.map(() => 'retry')
  return batch.map(() => `${answer.status}: ${JSON.stringify(answer.body)}`)
}

/** Of two deliveries of one message, the outcome that needs the most: a refusal, else a retry, else delivered. */
const worse = (a: string, b: string) => (a !== 'ok' && a !== 'retry' ? a : b !== 'ok' && b !== 'retry' ? b : a === 'retry' ? a : b)

/** A server's drain round here: a few webhook batches, so that rounds run while the next batches arrive. */
const SERVER_DRAIN_BATCH = '100'

/**
 * `pqlkit serve` deployed twice behind a load balancer: two processes (`pqlkit serve
 * --handoffs`, started as in test/e2e/server, with the preload) on one database (a SQLite
 * file, or a throwaway PostgreSQL cluster: test/harness/postgres.ts), each round one Segment
 * Webhooks (Actions) batch of 100 to each, and each batch delivered again at the same moment
 * to the other process (a sender's retry that a load balancer sends elsewhere), so the same
 * subjects arrive interleaved across both and every event twice at once. Every process
 * accepts; one drain at a time writes HubSpot and sends the outbox (SQLite: the lease row,
 * kept by the process that holds it; PostgreSQL: the advisory lock, taken per round by
 * whichever process asks first). Halfway through the stream both are restarted one after the
 * other (a rolling deploy: SIGTERM, which finishes the round in flight and gives the lease
 * up, then a new process), so another process takes the drain over with events and hand-offs
 * pending. The run ends once the inbox is drained and the outbox sent. The model is the
 * servers' `MODEL_FILE`, the family's too.
 */
export function serverProcesses(kind: 'SQLite' | 'PostgreSQL'): ConcurrentHost {
  return {
    name: `pqlkit serve: two processes on one ${kind} database, every webhook batch delivered to both at once, a rolling restart halfway`,
    async deliver(messages, { emulator, now, scratch, seed }) {
      const cluster = kind === 'PostgreSQL' ? await startPostgres() : undefined
      const database = cluster?.url ?? sqliteFile()
      const env = hostEnv(now, scratch, { HUBSPOT_PORTAL_ID: '123456', PQLKIT_BATCH_SIZE: SERVER_DRAIN_BATCH })
      const started: ServerProcess[] = []
      const start = async () => {
        const server = await spawnServer(emulator, database, env, { args: ['--handoffs'], preload: true })
        started.push(server)
        return server
      }
      const stop = async (server: ServerProcess) => {
        server.child.kill('SIGTERM')
        const code = await server.exited
        if (code !== 0) throw new Error(`pqlkit serve exited ${code}: ${server.stderr.join('')}`)
      }
      const db = openDatabase(database)
      try {
        const servers = await Promise.all([0, 1].map(start))
        const halfway = Math.ceil(messages.length / (servers.length * SEGMENT_BATCH) / 2)
        let round = 0
        let duplicates = 0
        const report = await inLockstep(messages, { lanes: servers.length, batchSize: SEGMENT_BATCH, seed }, async (batches) => {
          if (++round === halfway) {
            for (const lane of servers.keys()) {
              await stop(servers[lane])
              servers[lane] = await start()
            }
          }
          return Promise.all(
            batches.map(async (batch, lane) => {
              const calls = batch as unknown as SegmentMessage[]
              const [first, again] = await Promise.all([postSegment(servers[lane].url, calls), postSegment(servers[(lane + 1) % servers.length].url, calls)])
              duplicates += batch.length
              const others = webhookOutcomes(batch, again)
              return webhookOutcomes(batch, first).map((outcome, index) => worse(outcome, others[index]))
            })
          )
        })
        await drained(db)
        await handedOff(db)
        for (const server of servers) await stop(server)
        return { ...report, redelivered: report.redelivered + duplicates, states: await databaseStates(db) }
      } finally {
        for (const server of started) server.child.kill('SIGKILL')
        await db.close()
        cluster?.stop()
      }
    }
  }
}
