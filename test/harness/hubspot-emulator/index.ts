import { FaultOptions } from './faults'
import { DAILY_LIMIT, DailyQuota, DEFAULT_RATE_LIMIT, RateLimitOptions } from './rate-limit'
import { EmulatorServer, EmulatorStats, HeldAnswer } from './server'
import { EmulatorDump } from './store'

/**
 * A local HubSpot (SPEC §8): the CRM endpoints pqlkit uses, served on 127.0.0.1 with
 * HubSpot's validation, status codes, error bodies, rate limits and seeded faults, so that
 * the official `@hubspot/api-client` talks to it unchanged (only `basePath` differs).
 */
export type { FaultOptions } from './faults'
export type { EmulatorDump, StoredRecord, Association } from './store'
export type { EmulatorStats, HeldAnswer } from './server'
export type { PropertyDefinition, PropertyGroup } from './properties'

export type EmulatorOptions = {
  /** 0 (the default) picks a free port. */
  port?: number
  /** Default 'emulator-token'; requests need `Authorization: Bearer <token>`. */
  accessToken?: string
  /** Default 123456. */
  portalId?: number
  /** Default { max: 100, intervalMs: 10_000 }: HubSpot's TEN_SECONDLY_ROLLING policy. */
  rateLimit?: RateLimitOptions
  /** Default none. */
  faults?: FaultOptions
  /** The portal's calls per day (default 500,000); they reset at midnight in `timeZone`. */
  dailyLimit?: number
  /** The portal's IANA time zone, as account info answers it (default America/New_York). */
  timeZone?: string
  /**
   * Wall time in ms for the rate limits and the daily quota. Default: the monotonic clock, so
   * windows keep rolling in real time while a test freezes Date.
   */
  now?: () => number
  /** Versions kept per property for `propertiesWithHistory` (default 20). */
  historyLimit?: number
}

export type Emulator = {
  /** e.g. http://127.0.0.1:54321 (no trailing slash) */
  url: string
  accessToken: string
  stop(): Promise<void>
  /** Forgets all data (properties, objects, counters); keeps the options. */
  reset(): void
  setFaults(faults: FaultOptions | undefined): void
  dump(): EmulatorDump
  stats(): EmulatorStats
  /** Carries out the next request to `endpoint` ('POST /crm/v3/objects/tasks') and holds its answer until `release()` (or `drop()`). */
  holdNext(endpoint: string): HeldAnswer
}

export const DEFAULT_TOKEN = 'emulator-token'
export const DEFAULT_PORTAL_ID = 123456
export const DEFAULT_TIME_ZONE = 'America/New_York'

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const accessToken = options.accessToken ?? DEFAULT_TOKEN
  const server = new EmulatorServer({
    accessToken,
    portalId: options.portalId ?? DEFAULT_PORTAL_ID,
    rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
    daily: new DailyQuota(options.dailyLimit ?? DAILY_LIMIT, options.timeZone ?? DEFAULT_TIME_ZONE),
    now: options.now ?? (() => performance.timeOrigin + performance.now()),
    faults: options.faults,
    historyLimit: options.historyLimit
  })
  const port = await server.listen(options.port ?? 0)
  let stopped: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    accessToken,
    stop: () => (stopped ??= server.close()),
    reset: () => server.reset(),
    setFaults: (faults) => server.faults.set(faults),
    dump: () => server.store.dump(),
    stats: () => server.stats(),
    holdNext: (endpoint) => server.holdNext(endpoint)
  }
}
