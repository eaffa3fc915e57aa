import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { ModelSource } from '../cli/io'
import type { HubSpotConfig } from '../hubspot/api'
import type { Drain, DrainReports, DrainTuning, HubSpotCounts, TokenStatus } from './drain-loop'
import type { JsonLog } from './log'

/**
 * What a drain thread is built from: plain data (a worker thread receives a copy), so it
 * opens its own connection to the database, compiles the model from the same files' text
 * and makes its own HubSpot client.
 */
export type DrainThreadSettings = DrainTuning & {
  /** A SQLite file's path or a PostgreSQL URL. */
  database: string
  model: ModelSource
  hubspot: HubSpotConfig
  /** Hand-offs are sent (Slack through Node's https, tasks through the HubSpot client). */
  handoffs?: { portalId?: number; allowedHosts?: string[] }
}

export type ToDrain = { kind: 'notify' } | { kind: 'stop' }
export type FromDrain =
  | { kind: 'processed'; result: Parameters<DrainReports['processed']>[0]; count: number }
  | { kind: 'handoffs'; result: Parameters<DrainReports['handoffs']>[0]; count: number }
  | { kind: 'token'; status: TokenStatus }
  | { kind: 'hubspot'; counts: HubSpotCounts }

/** A worker thread that dies (it should not) is started again this long after. */
const RESTART_MS = 1000
/**
 * How long a stop waits for the round in flight (a round waiting out HubSpot's 429s can take
 * a minute); then the thread is stopped where it is, as a crash would: its events stay pending
 * in the inbox and its state is not committed, so nothing is lost or counted twice.
 */
const STOP_GRACE_MS = 10_000

/**
 * The drain in a worker thread (`drain-worker.ts`), so that a round's CPU (the batch step
 * over thousands of events) never delays the answer to a webhook: the server's thread only
 * parses, validates and commits requests. The worker reports counts and the token's status
 * back as messages.
 */
export class DrainThread implements Drain {
  private worker: Worker | undefined
  private counts: HubSpotCounts = { calls: 0, throttled: 0 }
  private stopping = false
  private exited: Promise<void> = Promise.resolve()

  constructor(
    private readonly settings: DrainThreadSettings,
    private readonly reports: DrainReports,
    private readonly log: JsonLog
  ) {}

  start(): void {
    const worker = new Worker(join(__dirname, 'drain-worker.js'), { workerData: this.settings })
    this.worker = worker
    const base = { ...this.counts }
    worker.on('message', (message: FromDrain) => {
      if (message.kind === 'processed') this.reports.processed(message.result, message.count)
      else if (message.kind === 'handoffs') this.reports.handoffs(message.result, message.count)
      else if (message.kind === 'token') this.reports.token(message.status)
      else this.counts = { calls: base.calls + message.counts.calls, throttled: base.throttled + message.counts.throttled }
    })
    worker.on('error', (error) => this.log.error('the drain thread failed', { error: error.message }))
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        resolve()
        if (this.stopping) return
        this.log.error('the drain thread stopped; starting it again')
        setTimeout(() => this.start(), RESTART_MS).unref()
      })
    )
  }

  notify(): void {
    this.worker?.postMessage({ kind: 'notify' } satisfies ToDrain)
  }

  async stop(): Promise<void> {
    this.stopping = true
    const worker = this.worker
    if (!worker) return
    worker.postMessage({ kind: 'stop' } satisfies ToDrain)
    const grace = setTimeout(() => {
      this.log.warn('the drain round in flight is still waiting on HubSpot; stopping it (its events stay in the inbox)')
      void worker.terminate()
    }, STOP_GRACE_MS)
    await this.exited
    clearTimeout(grace)
  }

  hubspotCounts(): HubSpotCounts {
    return this.counts
  }
}
