/**
 * HubSpot's limits as the emulator applies them: a rolling window of `max` requests per
 * `intervalMs` (the app's TEN_SECONDLY_ROLLING policy), a daily quota that only shows in
 * headers, and the CRM search endpoints' own 5 requests per second.
 */
export type RateLimitOptions = { max: number; intervalMs: number }

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 100, intervalMs: 10_000 }
export const DAILY_LIMIT = 500_000
export const SEARCH_LIMIT: RateLimitOptions = { max: 5, intervalMs: 1_000 }

/** Requests accepted in the last `intervalMs`; a rejected request is not counted. */
export class RollingWindow {
  private readonly accepted: number[] = []

  constructor(readonly limit: RateLimitOptions) {}

  private roll(now: number): void {
    while (this.accepted.length > 0 && this.accepted[0] <= now - this.limit.intervalMs) this.accepted.shift()
  }

  /** Counts one request if it fits in the window. */
  take(now: number): boolean {
    this.roll(now)
    if (this.accepted.length >= this.limit.max) return false
    this.accepted.push(now)
    return true
  }

  remaining(now: number): number {
    this.roll(now)
    return Math.max(0, this.limit.max - this.accepted.length)
  }

  clear(): void {
    this.accepted.length = 0
  }
}

/**
 * The portal's daily quota. HubSpot: "daily limits reset at midnight based on your time zone
 * setting" (developers.hubspot.com/docs/guides/apps/api-usage/usage-details); the portal's
 * time zone is what `GET /account-info/v3/details` answers as `timeZone`.
 */
export class DailyQuota {
  private day = ''
  private used = 0
  private readonly format: Intl.DateTimeFormat

  constructor(
    readonly max: number,
    readonly timeZone: string
  ) {
    this.format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
  }

  /** The calls used on the portal's calendar day of `now`. */
  usedOn(now: number): number {
    const day = this.format.format(new Date(now))
    if (day !== this.day) {
      this.day = day
      this.used = 0
    }
    return this.used
  }

  full(now: number): boolean {
    return this.usedOn(now) >= this.max
  }

  /** Counts one accepted request. */
  count(now: number): void {
    this.usedOn(now)
    this.used++
  }

  clear(): void {
    this.used = 0
  }
}

/** The headers HubSpot puts on every authenticated answer. */
export function rateLimitHeaders(window: RollingWindow, now: number, daily: DailyQuota): Record<string, string> {
  return {
    'X-HubSpot-RateLimit-Daily': String(daily.max),
    'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, daily.max - daily.usedOn(now))),
    'X-HubSpot-RateLimit-Interval-Milliseconds': String(window.limit.intervalMs),
    'X-HubSpot-RateLimit-Max': String(window.limit.max),
    'X-HubSpot-RateLimit-Remaining': String(window.remaining(now))
  }
}
