import { Clock, FetchLike, RetryableError, RetryPolicy } from '@pqlkit/core/portable'

/** What RudderStack's `fetchV2` resolves to: the body is parsed JSON when it parses, else text. */
export type FetchV2Response = { url?: string; status: number; headers?: Record<string, string>; body?: unknown }
export type FetchV2 = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<FetchV2Response>

/** The globals RudderStack's transformer gives a transformation (and nothing else: no timers, no `URL`, no `Buffer`). */
export type Sandbox = {
  fetchV2: FetchV2
  getCredential: (key: string) => unknown
}

/** `fetchV2` as the bare fetch `HubSpotApi` takes. It rejects with a plain copy of the network error, whose `code` the API reads. */
export function fetchFromFetchV2(fetchV2: FetchV2): FetchLike {
  return async (url, init) => {
    const response = await fetchV2(url, init)
    const headers = response.headers ?? {}
    const body = response.body
    return {
      status: response.status,
      headers: { forEach: (callback) => Object.entries(headers).forEach(([key, value]) => callback(String(value), key)) },
      text: async () => (body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body))
    }
  }
}

/**
 * The sandbox has no timers, so nothing can wait: a call that HubSpot asks to delay fails at
 * once as retryable, and a 5xx or dropped connection is tried once more straight away.
 */
export const SANDBOX_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) =>
    ms <= 0
      ? Promise.resolve()
      : Promise.reject(new RetryableError(`HubSpot asked to wait ${Math.ceil(ms)} ms, and a RudderStack transformation cannot wait`, ms, true))
}

export const SANDBOX_RETRY: RetryPolicy = { attempts: 2, baseDelayMs: 0, maxDelayMs: 0 }
