import type { ProductEvent } from '../engine/event'
import type { HubSpotSync } from './sync'
import type { RecordResult } from './write'

export type Timers = {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export type GatherOptions = {
  /** Events processed together at most (one HubSpot read and write per 100 subjects). */
  maxBatch?: number
  /** How long the first event of a batch waits for others. */
  windowMs?: number
  now?: () => number
  timers?: Timers
}

type Pending = { event: ProductEvent; resolve(result: RecordResult): void; reject(error: unknown): void }

const DEFAULT_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
}

/**
 * Gathers events that arrive one at a time (a PostHog plugin's `onEvent`, a webhook request)
 * into batches for the pipeline, so HubSpot sees one read and one write per 100 subjects
 * instead of per event. Each caller still gets its own event's result; an event is only
 * answered after its batch was written, so nothing is acknowledged that could still be lost.
 */
export class Gatherer {
  private pending: Pending[] = []
  private timer: unknown
  private readonly running = new Set<Promise<void>>()
  private readonly maxBatch: number
  private readonly windowMs: number
  private readonly now: () => number
  private readonly timers: Timers

  constructor(
    private readonly sync: HubSpotSync,
    options: GatherOptions = {}
  ) {
    this.maxBatch = options.maxBatch ?? 500
    this.windowMs = options.windowMs ?? 200
    this.now = options.now ?? (() => Date.now())
    this.timers = options.timers ?? DEFAULT_TIMERS
  }

  submit(event: ProductEvent): Promise<RecordResult> {
    return new Promise<RecordResult>((resolve, reject) => {
      this.pending.push({ event, resolve, reject })
      if (this.pending.length >= this.maxBatch) this.flush()
      else if (this.timer === undefined) this.timer = this.timers.setTimeout(() => this.flush(), this.windowMs)
    })
  }

  /** Starts processing what is waiting now. */
  flush(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    const run = this.process(batch).finally(() => this.running.delete(run))
    this.running.add(run)
  }

  /** Processes everything waiting and resolves when every batch started so far is done (teardown). */
  async drain(): Promise<void> {
    this.flush()
    while (this.running.size > 0) await Promise.all([...this.running])
  }

  private async process(batch: Pending[]): Promise<void> {
    try {
      const report = await this.sync.process(
        batch.map((pending) => pending.event),
        this.now()
      )
      batch.forEach((pending, index) => pending.resolve(report.results[index]))
    } catch (error) {
      for (const pending of batch) pending.reject(error)
    }
  }
}
