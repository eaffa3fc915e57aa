import * as crypto from 'node:crypto'
import * as https from 'node:https'
import vm from 'node:vm'
import nodeFetch from 'node-fetch'

/**
 * A stand-in for Segment's Destination Functions runtime (segment-docs: destination-functions,
 * functions/runtime, functions/usage): Node 20; the script evaluated as plain code (no
 * `import`, no `require`), its top-level `onTrack` / `onIdentify` / `onGroup` / `onBatch` the
 * handlers, each called with (event or events, settings); `fetch` is node-fetch v2; the error
 * classes `EventNotSupported`, `InvalidEventPayload`, `ValidationError` and `RetryError` are
 * globals; `crypto` and `https` are exposed, no other Node module; an invocation that has not
 * settled after 5 s is a timeout. A handler the script lacks answers `EventNotSupported`, as
 * Segment's does. The code runs in a `vm` context of this process, so network stubs of the
 * test (Slack) apply to its `fetch`; an invocation past its time limit is reported as Segment
 * sees it, while its work may go on, as a frozen Lambda's may on its next thaw.
 */
export const FUNCTION_TIMEOUT_MS = 5_000
export type Handler = 'onTrack' | 'onIdentify' | 'onGroup' | 'onPage' | 'onScreen' | 'onAlias' | 'onBatch'

export type Outcome = { kind: 'ok'; value: unknown } | { kind: 'error'; name: string; message: string } | { kind: 'timeout' }

/** `now`: the context's Date stands there (as the other hosts' tests freeze Date); `timeoutMs` scales the 5 s down. */
export type FunctionOptions = { now?: number; timeoutMs?: number }

export type LoadedFunction = {
  invoke(handler: Handler, payload: unknown, settings: Record<string, string>): Promise<Outcome>
  /** Every `console` line of every invocation. */
  logs: string[]
  /** The names the context's global object offers the script (beyond the language's own). */
  globals: string[]
}

const ERRORS = ['EventNotSupported', 'InvalidEventPayload', 'ValidationError', 'RetryError']

const BOOTSTRAP = `
for (const name of ${JSON.stringify(ERRORS)}) {
  globalThis[name] = { [name]: class extends Error { constructor(message) { super(message); this.name = name } } }[name]
}
if (globalThis.__now !== undefined) {
  const now = globalThis.__now
  globalThis.Date = class Date extends globalThis.Date {
    constructor(...args) {
      super(...(args.length === 0 ? [now] : args))
    }
    static now() {
      return now
    }
  }
}
delete globalThis.__now
`

export function loadFunction(code: string, { now, timeoutMs = FUNCTION_TIMEOUT_MS }: FunctionOptions = {}): LoadedFunction {
  const logs: string[] = []
  const line = (level: string) => (...args: unknown[]) => logs.push(`${level}: ${args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')}`)
  const offered = {
    fetch: nodeFetch,
    console: { log: line('log'), info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug') },
    crypto,
    https,
    atob,
    btoa,
    Buffer,
    URL,
    URLSearchParams,
    TextEncoder,
    TextDecoder,
    AbortController,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    performance,
    __now: now
  }
  const context = vm.createContext({ ...offered })
  vm.runInContext(BOOTSTRAP, context)
  vm.runInContext(code, context, { filename: 'function.js' })
  const globals = [...Object.keys(offered).filter((name) => name !== '__now'), ...ERRORS]
  return {
    logs,
    globals,
    async invoke(handler, payload, settings) {
      const fn = (context as Record<string, unknown>)[handler]
      if (typeof fn !== 'function') return { kind: 'error', name: 'EventNotSupported', message: `${handler} is not supported` }
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs)))
      const run = (async (): Promise<Outcome> => {
        try {
          return { kind: 'ok', value: await (fn as (payload: unknown, settings: unknown) => unknown)(payload, settings) }
        } catch (error) {
          const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown }
          return { kind: 'error', name: typeof name === 'string' ? name : 'Error', message: typeof message === 'string' ? message : String(error) }
        }
      })()
      try {
        return await Promise.race([run, timedOut])
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** The handler Segment calls for one event of this type. */
export function handlerFor(event: { type?: unknown }): Handler {
  const type = String(event.type)
  return `on${type.charAt(0).toUpperCase()}${type.slice(1)}` as Handler
}

/**
 * What Segment does with an invocation's outcome, per event (segment-docs: "Handling batching
 * errors" and the retry FAQ): `RetryError` and timeouts are retried (for up to 4 hours, with
 * backoff), every other error drops what it covers; an `onBatch` array answers per event,
 * 5xx retried and anything else but 200 dropped.
 */
export function segmentVerdicts(outcome: Outcome, events: number): ('ok' | 'retry' | string)[] {
  if (outcome.kind === 'timeout') return Array(events).fill('retry')
  if (outcome.kind === 'error') return Array(events).fill(outcome.name === 'RetryError' ? 'retry' : `${outcome.name}: ${outcome.message}`)
  if (!Array.isArray(outcome.value)) return Array(events).fill('ok')
  const statuses = outcome.value as { status?: number; errormessage?: string }[]
  return Array.from({ length: events }, (_, index) => {
    const status = statuses[index]?.status ?? 200
    if (status === 200) return 'ok'
    if (status >= 500) return 'retry'
    return `${status}: ${statuses[index]?.errormessage ?? ''}`
  })
}

/** Segment's batch sizes for `onBatch`: 20 by default, up to 400 on request to its support. */
export const DEFAULT_BATCH = 20
export const LARGEST_BATCH = 400
