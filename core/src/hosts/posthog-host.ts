import { ValidationError } from '../engine/errors'
import { modelReads, posthogEventToProductEvent } from './posthog-event'
import { Gatherer, GatherOptions, Timers } from '../pipeline/gather'
import type { Pipeline } from '../pipeline/sync'
import type { SweepOptions, SweepReport } from '../pipeline/sweep'

/** What became of one PostHog event; the plugin says it in PostHog's terms. */
export type PostHogOutcome =
  | { status: 'ok' }
  | { status: 'skipped'; reason: string }
  | { status: 'invalid'; message: string }
  | { status: 'retryable'; message: string; retryAfterMs: number; throttled?: boolean }

const NODE_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
}

export type PostHogHostOptions = Partial<GatherOptions> & {
  /** The PostHog group type that holds companies (`posthog.group('company', key)`). */
  groupType?: string
}

/**
 * The PostHog wrapper the plugin runs (SPEC §6): maps each event,
 * drops the ones the model never reads, gathers the rest into pipeline batches and answers
 * each event with its own outcome, its id and name in every message.
 */
export class PostHogHost {
  private readonly gatherer: Gatherer
  readonly groupType: string

  constructor(
    readonly pipeline: Pipeline,
    options: PostHogHostOptions = {}
  ) {
    this.gatherer = new Gatherer(pipeline, { ...options, timers: options.timers ?? NODE_TIMERS })
    this.groupType = options.groupType ?? 'company'
  }

  async handle(input: unknown): Promise<PostHogOutcome> {
    const where = describe(input)
    let event
    try {
      event = posthogEventToProductEvent(input, this.groupType)
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      return { status: 'invalid', message: `${where}: ${error.message}` }
    }
    if (event === undefined) return { status: 'skipped', reason: `${where}: a group identify of another group type than "${this.groupType}"` }
    if (!modelReads(this.pipeline.model, event)) return { status: 'skipped', reason: `${where}: no signal of the model reads this event` }
    const { result } = await this.gatherer.submit(event)
    if (result.status === 'ok') return result
    return { ...result, message: `${where}: ${result.message}` }
  }

  /** Re-evaluates time-based values as of `now` (the plugin's scheduled task). Waits for gathered events first. */
  async sweep(now: number, options?: SweepOptions): Promise<SweepReport> {
    await this.gatherer.drain()
    return this.pipeline.sweep(now, options)
  }

  /** Processes what is gathered and waits for every batch in flight (teardown, shutdown). */
  drain(): Promise<void> {
    return this.gatherer.drain()
  }
}

function describe(input: unknown): string {
  const record = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : {}
  const id = typeof record.uuid === 'string' ? record.uuid.slice(0, 64) : '(no uuid)'
  const name = typeof record.event === 'string' ? ` ${JSON.stringify(record.event.slice(0, 80))}` : ''
  return `event ${id}${name}`
}
