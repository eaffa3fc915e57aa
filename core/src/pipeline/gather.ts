import type { ProductEvent } from '../engine/event'
import type { RecordResult } from '../hubspot/write'
import type { SyncReport } from './write-back'

/** What a gatherer feeds: a pipeline's `process`. */
export type BatchProcessor = { process(events: ProductEvent[], now: number): Promise<SyncReport> }

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
  /** The host's timers (none are global here: some sandboxes have none). */
  timers: Timers
}

/** One event's outcome, with the report of the batch it went in (`index` is its place there). */
export type Gathered = { result: RecordResult; report: SyncReport; index: number }

type Pending = { event: ProductEvent; resolve(gathered: Gathered): void; reject(error: unknown): void }

/**
 * Gathers events that arrive one at a time (a plugin's per-event hook, a webhook request,
 * concurrent per-event calls made in one turn) into batches for the pipeline, so HubSpot
 * sees one read and one write per 100 subjects instead of per event. Each caller still gets its own event's result; an event is only
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
    private readonly pipeline: BatchProcessor,
    options: GatherOptions
  ) {
    this.maxBatch = options.maxBatch ?? 500
    this.windowMs = options.windowMs ?? 200
    this.now = options.now ?? (() => Date.now())
    this.timers = options.timers
  }

  submit(event: ProductEvent): Promise<Gathered> {
    return new Promise<Gathered>((resolve, reject) => {
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
      const report = await this.pipeline.process(
        batch.map((pending) => pending.event),
        this.now()
      )
      batch.forEach((pending, index) => pending.resolve({ result: report.results[index], report, index }))
    } catch (error) {
      for (const pending of batch) pending.reject(error)
    }
  }
}
