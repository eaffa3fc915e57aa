import { RetryableError } from '../engine/errors'
import { msUntilMidnight } from '../time'

/**
 * Every HubSpot call goes through here (SPEC §5): one token bucket per process, sized from
 * HubSpot's `X-HubSpot-RateLimit-*` headers; a TEN_SECONDLY_ROLLING 429 waits for the window
 * to roll, 5xx, timeouts and dropped connections back off exponentially with jitter, both
 * bounded; a DAILY 429 is retryable-later at once, never spun on: HubSpot's daily limit resets
 * at midnight in the portal's time zone, which the transport reads from account info once
 * (when 5% of the day's calls are left, or at the first DAILY 429 if that comes first).
 */

export type Clock = { now(): number; sleep(ms: number): Promise<void> }

/**
 * Wall time from the monotonic clock: a rate-limit window must keep rolling when the system
 * clock is stepped (or frozen, as tests of wall-clock hosts do).
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
}

/** What a call gives back: the status and headers of HubSpot's answer, and its parsed body. */
export type Answer<T> = { status: number; headers: Record<string, string>; data: T }

/** HubSpot's error body: `{ status: 'error', message, correlationId, category, context?, errors? }`. */
export type HubSpotErrorBody = {
  message?: string
  category?: string
  correlationId?: string
  policyName?: string
  context?: Record<string, string[]>
  errors?: { message?: string; category?: string; context?: Record<string, string[]> }[]
}

/** A HubSpot answer that is not retryable (400, 401, 403, 404, 409, …). */
export class HubSpotRequestError extends Error {
  constructor(
    readonly endpoint: string,
    readonly status: number,
    readonly body: HubSpotErrorBody
  ) {
    super(`HubSpot ${endpoint} answered ${status}${body.category ? ` ${body.category}` : ''}: ${body.message ?? 'no message'}`)
    this.name = 'HubSpotRequestError'
  }
}

export type RetryPolicy = {
  /** Attempts in all, for 5xx/timeouts and for TEN_SECONDLY 429s alike. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 10_000 }
const DEFAULT_LIMIT = { max: 100, intervalMs: 10_000 }
/** The share of the daily limit left when the transport reads the portal's time zone. */
const LOW_DAILY_SHARE = 0.05

/**
 * A rolling-window limiter that mirrors HubSpot's TEN_SECONDLY_ROLLING policy. The window is
 * kept as groups of calls counted at one time (a call is a group of one; HubSpot's Remaining
 * count and a 429 add one group each), never one entry per call HubSpot counts: against a
 * limit in the hundreds of thousands (the emulator's, a large app's) a full window of single
 * entries made every later call crawl.
 */
export class RateLimiter {
  private max = DEFAULT_LIMIT.max
  private intervalMs = DEFAULT_LIMIT.intervalMs
  private readonly window: { at: number; calls: number }[] = []
  private counted = 0

  constructor(private readonly clock: Clock) {}

  get limit(): { max: number; intervalMs: number } {
    return { max: this.max, intervalMs: this.intervalMs }
  }

  /** Counts `calls` at `at`, kept in time order (a 429's group may be dated before the last call). */
  private count(at: number, calls: number): void {
    if (calls <= 0) return
    let i = this.window.length
    while (i > 0 && this.window[i - 1].at > at) i--
    this.window.splice(i, 0, { at, calls })
    this.counted += calls
  }

  private expire(now: number): void {
    while (this.window.length > 0 && this.window[0].at <= now - this.intervalMs) this.counted -= this.window.shift()!.calls
  }

  /** Waits until one more call fits in the window, then counts it. */
  async acquire(): Promise<void> {
    for (;;) {
      const now = this.clock.now()
      this.expire(now)
      if (this.counted < this.max) {
        this.count(now, 1)
        return
      }
      // The window frees up as its oldest groups expire: wait for the first that makes room.
      let over = this.counted - this.max + 1
      let until = now
      for (const group of this.window) {
        until = group.at
        over -= group.calls
        if (over <= 0) break
      }
      await this.clock.sleep(until + this.intervalMs - now + 1)
    }
  }

  /** Sizes the window from HubSpot's headers (the limit differs by plan and app). */
  observe(headers: Record<string, string>): void {
    const max = Number(headers['x-hubspot-ratelimit-max'])
    const interval = Number(headers['x-hubspot-ratelimit-interval-milliseconds'])
    if (Number.isInteger(max) && max > 0) this.max = max
    if (Number.isInteger(interval) && interval > 0) this.intervalMs = interval
    const remaining = Number(headers['x-hubspot-ratelimit-remaining'])
    if (headers['x-hubspot-ratelimit-remaining'] !== undefined && Number.isInteger(remaining)) {
      // Another process may share the app's limit: trust HubSpot's count when it is lower.
      const now = this.clock.now()
      this.expire(now)
      this.count(now, this.max - this.counted - remaining)
    }
  }

  /** After a 429: nothing more for at least `ms` (the window counted full until then); the calls already counted stay counted. */
  pause(ms: number): void {
    const now = this.clock.now()
    this.expire(now)
    this.count(now + ms - this.intervalMs, this.max - this.counted)
  }
}

/** What a failed attempt was, as far as retrying goes. */
type Failure =
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: HubSpotErrorBody }
  | { kind: 'network'; message: string }

/** `throttled`: 429 answers seen. */
export type CallStats = { calls: number; retries: number; throttled: number; byEndpoint: Record<string, number> }

export class Transport {
  readonly limiter: RateLimiter
  readonly stats: CallStats = { calls: 0, retries: 0, throttled: 0, byEndpoint: {} }
  private timeZoneLookup?: () => Promise<string>
  private timeZone?: Promise<string | undefined>
  /** The lookup's own call is under way: its DAILY 429 must not wait for itself. */
  private lookingUp = false

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    private readonly random: () => number = Math.random
  ) {
    this.limiter = new RateLimiter(clock)
  }

  /** How to read the portal's time zone (account info), asked at most once. */
  readTimeZoneWith(lookup: () => Promise<string>): void {
    this.timeZoneLookup = lookup
  }

  /** The portal's time zone, read once; undefined when it could not be read. */
  private portalTimeZone(): Promise<string | undefined> {
    if (!this.timeZone) {
      const lookup = this.timeZoneLookup
      this.lookingUp = lookup !== undefined
      this.timeZone = (lookup ? lookup() : Promise.resolve(undefined)).then(
        (zone) => zone,
        () => undefined
      ).finally(() => (this.lookingUp = false))
    }
    return this.timeZone
  }

  /** Reads the time zone while calls are left, so a DAILY 429 knows when the day ends. */
  private async watchDaily(headers: Record<string, string>): Promise<void> {
    const daily = Number(headers['x-hubspot-ratelimit-daily'])
    const remaining = Number(headers['x-hubspot-ratelimit-daily-remaining'])
    if (this.timeZone || !(daily > 0) || !(remaining <= daily * LOW_DAILY_SHARE)) return
    await this.portalTimeZone()
  }

  /**
   * Runs `attempt` (one HTTP call) with rate limiting and
   * retries. Returns 2xx answers (207 included); throws HubSpotRequestError for other 4xx
   * and RetryableError when retries are exhausted or HubSpot's daily limit is hit.
   * `repeatUnanswered: false` (a create HubSpot cannot deduplicate, whose caller looks for it
   * before trying again): a call that got no answer or a 5xx, which HubSpot may have carried
   * out, is not repeated here but thrown as a RetryableError at once; a 429 still waits and repeats.
   */
  async call<T>(endpoint: string, attempt: () => Promise<Answer<T>>, { repeatUnanswered = true }: { repeatUnanswered?: boolean } = {}): Promise<Answer<T>> {
    for (let tryNumber = 1; ; tryNumber++) {
      await this.limiter.acquire()
      this.stats.calls++
      this.stats.byEndpoint[endpoint] = (this.stats.byEndpoint[endpoint] ?? 0) + 1
      let failure: Failure
      try {
        const answer = await attempt()
        this.limiter.observe(answer.headers)
        await this.watchDaily(answer.headers)
        return answer
      } catch (error) {
        failure = classify(error)
      }
      if (failure.kind === 'answer') this.limiter.observe(failure.headers)
      const last = tryNumber >= this.retry.attempts
      if (failure.kind === 'answer' && failure.status === 429) {
        this.stats.throttled++
        const policy = failure.body.policyName ?? ''
        if (/DAILY/i.test(policy)) {
          const timeZone = this.lookingUp ? undefined : await this.portalTimeZone()
          throw new RetryableError(
            `HubSpot's daily API limit is reached (${endpoint}); retry after midnight ${timeZone ? `in the portal's time zone, ${timeZone}` : "UTC (the portal's time zone could not be read)"}`,
            msUntilMidnight(this.clock.now(), timeZone ?? 'UTC'),
            true
          )
        }
        // Without Retry-After, back off as for 5xx but never past one window: the limiter has
        // already taken HubSpot's Remaining count, so an exhausted window waits for it anyway.
        const waitMs = retryAfterMs(failure.headers) ?? Math.min(this.limiter.limit.intervalMs, this.backoff(tryNumber))
        if (last) throw new RetryableError(`HubSpot kept rate-limiting ${endpoint} after ${tryNumber} attempts`, waitMs, true)
        this.limiter.pause(waitMs)
        this.stats.retries++
        continue
      }
      const transient = failure.kind === 'network' || failure.status >= 500
      if (!transient) {
        const answer = failure as Extract<Failure, { kind: 'answer' }>
        throw new HubSpotRequestError(endpoint, answer.status, answer.body)
      }
      const delay = this.backoff(tryNumber)
      const what = failure.kind === 'network' ? failure.message : `status ${failure.status}`
      if (!repeatUnanswered) throw new RetryableError(`HubSpot ${endpoint} failed (${what}); not repeated: HubSpot may have carried it out`, delay)
      if (last) throw new RetryableError(`HubSpot ${endpoint} failed ${tryNumber} times (last: ${what})`, delay)
      this.stats.retries++
      await this.clock.sleep(delay / 2 + this.random() * (delay / 2))
    }
  }

  private backoff(tryNumber: number): number {
    return Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (tryNumber - 1))
  }
}

function retryAfterMs(headers: Record<string, string>): number | undefined {
  const seconds = Number(headers['retry-after'])
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined
}

/** A non-2xx answer comes as an error with its status as `code`, its body and its lower-cased headers. */
function classify(error: unknown): Failure {
  const candidate = error as { code?: unknown; body?: unknown; headers?: unknown; message?: unknown; name?: unknown }
  if (typeof candidate?.code === 'number' && candidate.code >= 100) {
    return {
      kind: 'answer',
      status: candidate.code,
      headers: (candidate.headers ?? {}) as Record<string, string>,
      body: parseBody(candidate.body)
    }
  }
  // Network failures carry a code (ECONNRESET, ETIMEDOUT, …); an answer that is not JSON (a
  // gateway's HTML error page, typically) has none.
  const code = typeof candidate?.code === 'string' ? candidate.code : undefined
  return { kind: 'network', message: code ?? 'an answer that could not be read' }
}

function parseBody(body: unknown): HubSpotErrorBody {
  if (typeof body === 'string') {
    try {
      return parseBody(JSON.parse(body))
    } catch {
      return { message: body.slice(0, 200) }
    }
  }
  return body && typeof body === 'object' ? (body as HubSpotErrorBody) : {}
}
