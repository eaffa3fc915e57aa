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

/** The headers HubSpot puts on every authenticated answer. */
export function rateLimitHeaders(window: RollingWindow, now: number, usedToday: number): Record<string, string> {
  return {
    'X-HubSpot-RateLimit-Daily': String(DAILY_LIMIT),
    'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, DAILY_LIMIT - usedToday)),
    'X-HubSpot-RateLimit-Interval-Milliseconds': String(window.limit.intervalMs),
    'X-HubSpot-RateLimit-Max': String(window.limit.max),
    'X-HubSpot-RateLimit-Remaining': String(window.remaining(now))
  }
}
