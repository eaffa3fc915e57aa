import { RetryableError } from '../engine/errors'
import type { HandoffSender } from '../handoff/sender'
import type { HubSpotCalls } from '../hubspot/api'
import { HubSpotRequestError } from '../hubspot/transport'
import type { Model } from '../model/compile'
import { createPipeline } from '../pipeline/create'
import type { Pipeline } from '../pipeline/sync'
import type { Database } from './database'
import { drainRound, OutboxReport, RoundReport, sendOutbox } from './drain'
import { OutboxCollector, OutboxSender } from './handoffs'
import type { JsonLog } from './log'
import { DatabaseStateStore } from './subject-store'
import { sweepDatabase } from './sweep'

/** How the drain paces itself; every field has a default. */
export type DrainTuning = {
  /** The most events one drain round takes (default 5,000): a subject's burst is one write. */
  batchSize?: number
  /** After the inbox goes from empty to not, how long the drain gathers before its round (default 1 s). */
  gatherMs?: number
  /** How often an idle drain looks for work another process accepted (default 500 ms). */
  pollMs?: number
  /** The in-server sweep's period (default 1 hour; 0: off). */
  sweepIntervalMs?: number
  sweepHorizonDays?: number
}

export type TokenStatus = 'unchecked' | 'accepted' | 'rejected'
export type HubSpotCounts = { calls: number; throttled: number }

/** What the drain tells the server it runs for: the metrics' counters and the token's readiness. */
export interface DrainReports {
  processed(result: keyof Pick<RoundReport, 'ok' | 'invalid' | 'retryable'>, count: number): void
  handoffs(result: keyof OutboxReport, count: number): void
  token(status: TokenStatus): void
}

/** The drain as the server sees it, in its own thread or in a worker thread (`drain-thread.ts`). */
export interface Drain {
  start(): void
  /** New events were committed in this process: the drain need not wait for its poll. */
  notify(): void
  /** Finishes the round in flight and stops. */
  stop(): Promise<void>
  hubspotCounts(): HubSpotCounts
}

export type DrainParts = DrainTuning & {
  db: Database
  model: Model
  api: HubSpotCalls
  /** Sends the hand-offs that fire, through the outbox; without it they are evaluated and marked, never sent. */
  handoffs?: HandoffSender
  log: JsonLog
  now: () => number
  reports: DrainReports
}

/** The drain in the calling thread: the pipeline on the database's states, the outbox, the token check. */
export function drainHere(parts: DrainParts): Drain {
  const store = new DatabaseStateStore(parts.db)
  const outbox = new OutboxCollector()
  const pipeline = createPipeline({ model: parts.model, api: parts.api, store, handoffs: parts.handoffs ? outbox : undefined })
  const sender = parts.handoffs ? new OutboxSender(parts.model, parts.api, parts.handoffs) : undefined
  const token = new TokenCheck(pipeline, parts.log, parts.reports)
  const loop = new DrainLoop(parts, pipeline, store, outbox, sender)
  return {
    start() {
      token.check()
      loop.start()
    },
    notify: () => loop.notify(),
    stop: async () => {
      token.stop()
      await loop.stop()
    },
    hubspotCounts: () => ({ calls: parts.api.transport.stats.calls, throttled: parts.api.transport.stats.throttled })
  }
}

/** Readiness: the token is checked by reconciling the portal (bootstrap), tried again until HubSpot answers. */
class TokenCheck {
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly pipeline: Pipeline,
    private readonly log: JsonLog,
    private readonly reports: DrainReports
  ) {}

  check(): void {
    this.pipeline.bootstrap().then(
      (report) => {
        this.reports.token('accepted')
        for (const property of report.incompatible) this.log.warn('incompatible HubSpot property left out of every write', { property: `${property.objectType}.${property.name}` })
      },
      (error: unknown) => {
        if (error instanceof HubSpotRequestError && (error.status === 401 || error.status === 403)) {
          this.reports.token('rejected')
          this.log.error('HubSpot rejected the access token: check the private app token and its CRM scopes')
          return
        }
        this.log.warn('HubSpot could not be reconciled yet; trying again', { error: (error as Error).message })
        this.timer = setTimeout(() => this.check(), error instanceof RetryableError ? Math.min(60_000, Math.max(1000, error.retryAfterMs)) : 10_000)
        this.timer.unref()
      }
    )
  }

  stop(): void {
    clearTimeout(this.timer)
  }
}

/**
 * The drain: rounds while there is work, the outbox after each, a gather pause when work
 * arrives after a quiet spell, a wait for HubSpot's window when it throttles. Each round is
 * under the database's lease, so across processes one drains at a time.
 */
class DrainLoop {
  private running = false
  private done: Promise<void> = Promise.resolve()
  private wake: (() => void) | undefined
  private lastSweep: number

  constructor(
    private readonly parts: DrainParts,
    private readonly pipeline: Pipeline,
    private readonly store: DatabaseStateStore,
    private readonly outbox: OutboxCollector,
    private readonly sender: OutboxSender | undefined
  ) {
    this.lastSweep = parts.now()
  }

  start(): void {
    this.running = true
    this.done = this.run()
  }

  notify(): void {
    this.wake?.()
  }

  async stop(): Promise<void> {
    this.running = false
    this.notify()
    await this.done
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
    })
  }

  private async run(): Promise<void> {
    const { db, log, now, reports } = this.parts
    const batchSize = this.parts.batchSize ?? 5000
    let idle = true
    while (this.running) {
      let round: RoundReport | undefined
      try {
        if (idle) await this.sleep(this.parts.gatherMs ?? 1000)
        if (!this.running) break
        // The schedule runs on the wall clock even where the model's time is pinned (tests).
        round = await drainRound({ db, pipeline: this.pipeline, store: this.store, outbox: this.outbox, batchSize }, now(), Date.now())
        if (round) this.count(round)
        if (this.sender) {
          const sent = await sendOutbox(db, this.sender, now(), Date.now())
          if (sent) for (const result of ['sent', 'suppressed', 'failed', 'retrying'] as const) if (sent[result] > 0) reports.handoffs(result, sent[result])
        }
        await this.sweepWhenDue()
      } catch (error) {
        log.error('drain round failed; trying again', { error: (error as Error).message })
        await this.sleep(1000)
        continue
      }
      idle = round === undefined || round.events < batchSize
      if (round?.throttledMs) {
        log.warn('HubSpot is rate-limiting; the inbox keeps accepting', { waitMs: round.throttledMs })
        await this.sleep(Math.min(60_000, round.throttledMs))
      } else if (idle) await this.sleep(this.parts.pollMs ?? 500)
    }
  }

  private count(round: RoundReport): void {
    for (const result of ['ok', 'invalid', 'retryable'] as const) if (round[result] > 0) this.parts.reports.processed(result, round[result])
    if (round.events > 0) this.parts.log.info('drained', { events: round.events, ok: round.ok, invalid: round.invalid, retryable: round.retryable })
    for (const problem of round.problems) this.parts.log.warn('problem', { problem })
  }

  private async sweepWhenDue(): Promise<void> {
    const interval = this.parts.sweepIntervalMs ?? 3_600_000
    if (interval <= 0 || this.parts.now() - this.lastSweep < interval) return
    this.lastSweep = this.parts.now()
    const report = await sweepDatabase(
      { db: this.parts.db, pipeline: this.pipeline, store: this.store, outbox: this.outbox },
      this.parts.now(),
      this.parts.sweepHorizonDays ?? 180
    )
    if (report) this.parts.log.info('swept', { examined: report.examined, changed: report.changed })
  }
}
