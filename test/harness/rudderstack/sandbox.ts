import ivm from 'isolated-vm'
import { EGRESS_TARGET } from './egress'

/** One event as RudderStack's processor hands it to the transformer. */
export type TransformerEvent = { message: Record<string, unknown>; metadata: Record<string, unknown> }

/** One answer per outcome, as rudder-transformer's user transformation service gives them back. */
export type TransformerResult =
  | { statusCode: 200; output: Record<string, unknown>; metadata: Record<string, unknown> }
  | { statusCode: 400; error: string; metadata: Record<string, unknown> }
  /** An input event the transformation returned nothing for: filtered. */
  | { statusCode: 298; metadata: Record<string, unknown> }

/**
 * rudder-transformer's limits (src/util/customTransformer-v1.js): 128 MB per isolate;
 * `IVM_EXECUTION_TIMEOUT`, 4 s, bounds only the synchronous start of the call (isolated-vm's
 * `timeout` on the `apply` that starts the transformation); `USER_TRANSFORM_TIMEOUT`, 600 s,
 * bounds the whole batch, awaited work included.
 */
export type SandboxLimits = { memoryMb: number; syncTimeoutMs: number; timeoutMs: number }
export const RUDDERSTACK_LIMITS: SandboxLimits = { memoryMb: 128, syncTimeoutMs: 4_000, timeoutMs: 600_000 }

/**
 * What a test sets around a run: the limits; `now`, the isolate's clock frozen there (as the
 * other hosts' tests freeze Date); `egress`, a loopback server that makes the transformation's
 * calls to other hosts (Slack) from the test's process, where its network stubs apply.
 */
export type RunOptions = { limits?: SandboxLimits; now?: number; egress?: string }

export type RunReport = { results: TransformerResult[]; logs: string[]; elapsedMs: number }

/**
 * The outcome rules of RudderStack's user transformations (rudder-transformer's
 * src/util/ivmFactory.js), as they run inside the isolate: exactly one of transformEvent /
 * transformBatch exported; transformEvent is called for every event at once, null or
 * undefined drops the event, an array fans out, a throw fails that event only;
 * transformBatch's array is matched back to events by messageId, and a throw fails the batch.
 * A thrown error is reported as its stack cut after the last line that names the exported
 * function (so a message's first line only, when no frame of that function is on the stack),
 * and a thrown value without a stack makes that cut throw, which fails the whole batch.
 * `metadata(event)` finds an event's metadata by its messageId.
 */
const WRAPPER = `
function __pqlkitStackUpTo(trace, name) {
  const lines = trace.split('\\n')
  let last = 0
  lines.forEach((line, index) => {
    if (line.includes(name)) last = index
  })
  return lines.slice(0, last + 1).join('\\n')
}
export async function __pqlkitRunner(payload) {
  const byId = {}
  for (const item of payload.events) byId[item.message.messageId] = item.metadata
  const metadata = (event) => (event && byId[event.messageId]) || {}
  const isObject = (value) => Object.prototype.toString.call(value) === '[object Object]'
  const messages = payload.events.map((item) => item.message)
  const outputs = []
  if (payload.kind === 'transformBatch') {
    let produced
    try {
      produced = await transformBatch(messages, metadata)
    } catch (error) {
      return [{ error: __pqlkitStackUpTo(error.stack, 'transformBatch'), metadata: {} }]
    }
    if (!Array.isArray(produced)) return [{ error: 'returned events from transformBatch(event) is not an array', metadata: {} }]
    for (const event of produced) {
      outputs.push(isObject(event) ? { output: event, metadata: metadata(event) } : { error: 'returned event in events array from transformBatch(events) is not an object', metadata: {} })
    }
    return outputs
  }
  await Promise.all(messages.map(async (message) => {
    const own = byId[message.messageId] || {}
    try {
      const result = await transformEvent(message, metadata)
      if (result === null || result === undefined) return
      const list = Array.isArray(result) ? result : [result]
      if (!list.every(isObject)) {
        outputs.push({ error: 'returned event from transformEvent(event) is not an object', metadata: own })
        return
      }
      for (const event of list) outputs.push({ output: event, metadata: own })
    } catch (error) {
      outputs.push({ error: __pqlkitStackUpTo(error.stack, 'transformEvent'), metadata: own })
    }
  }))
  return outputs
}
`

/**
 * The sandbox globals: fetchV2 resolves { url, status, headers, body } with the body parsed as
 * JSON when it parses and rejects with a plain copy of the network error; getCredential reads the
 * connection's credentials (a missing key is undefined, a null key throws); log collects lines.
 * With `RunOptions.now`, Date (its `now()` and `new Date()`) stands at that time. The script's
 * value is what starts a batch: it calls the runner synchronously (the part the 4 s limit
 * bounds) and settles the host's promise when the runner's promise settles.
 */
const BOOTSTRAP = `
(() => {
  const host = globalThis.__host
  delete globalThis.__host
  const { ivm } = host
  globalThis.fetchV2 = (url, init) => new Promise((resolve, reject) => {
    host.fetchV2.applyIgnored(undefined, [String(url), new ivm.ExternalCopy(init === undefined ? {} : init).copyInto(), new ivm.Reference(resolve), new ivm.Reference(reject)])
  })
  globalThis.getCredential = (key) => {
    if (key === null || key === undefined) throw new TypeError('Key should be valid and defined')
    return host.getCredential.applySync(undefined, [String(key)])
  }
  globalThis.log = (...args) => host.log.applyIgnored(undefined, [args.map((arg) => typeof arg === 'object' ? JSON.stringify(arg) : String(arg)).join(' ')])
  if (host.now !== undefined) {
    const now = host.now
    globalThis.Date = class Date extends globalThis.Date {
      constructor(...args) {
        super(...(args.length === 0 ? [now] : args))
      }
      static now() {
        return now
      }
    }
  }
  return (runner, settled, failed, payload) => {
    Promise.resolve(runner.deref()(payload)).then(
      (outputs) => settled.applyIgnored(undefined, [new ivm.ExternalCopy(outputs).copyInto()]),
      (error) => failed.applyIgnored(undefined, [new ivm.ExternalCopy(String(error && error.message)).copyInto()])
    )
  }
})()
`

/**
 * Runs one batch of a transformation's code as RudderStack's transformer does: a fresh isolate
 * and context per batch, the memory limit, the sandbox globals and nothing else (no timers, no
 * URL, no Buffer, no require, no process), imports refused; the synchronous start of the call
 * limited to `syncTimeoutMs`, the whole batch to `timeoutMs`. A failure of the whole batch is
 * every event's error, as `String(new Error(reason))`, the way rudder-transformer's service
 * reports it.
 */
export async function runTransformation(
  code: string,
  events: TransformerEvent[],
  credentials: Record<string, string>,
  { limits = RUDDERSTACK_LIMITS, now, egress }: RunOptions = {}
): Promise<RunReport> {
  const started = performance.now()
  const logs: string[] = []
  const isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb })
  const failAll = (reason: string): TransformerResult[] => events.map((event) => ({ statusCode: 400, error: String(new Error(reason)), metadata: event.metadata }))
  let timer: NodeJS.Timeout | undefined
  try {
    const context = await isolate.createContext()
    const hostApi = {
      ivm,
      fetchV2: new ivm.Reference(async (url: string, init: RequestInit | undefined, resolve: ivm.Reference, reject: ivm.Reference) => {
        try {
          const outside = egress !== undefined && !LOOPBACK.has(new URL(url).hostname)
          const response = outside ? await fetch(egress, { ...init, headers: { ...(init?.headers as Record<string, string>), [EGRESS_TARGET]: url } }) : await fetch(url, init)
          const headers: Record<string, string> = {}
          response.headers.forEach((value, key) => (headers[key] = value))
          const text = await response.text()
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // not JSON: the text, as RudderStack gives it
          }
          resolve.applyIgnored(undefined, [new ivm.ExternalCopy({ url: outside ? url : response.url, status: response.status, headers, body }).copyInto()])
        } catch (error) {
          const cause = (error as { cause?: { code?: string } }).cause
          reject.applyIgnored(undefined, [new ivm.ExternalCopy({ message: (error as Error).message, code: cause?.code }).copyInto()])
        }
      }),
      getCredential: new ivm.Reference((key: string) => credentials[key]),
      log: new ivm.Reference((line: string) => logs.push(`Log: ${line}`)),
      ...(now === undefined ? {} : { now })
    }
    await context.global.set('__host', new ivm.ExternalCopy({}).copyInto())
    const host = (await context.global.get('__host')) as ivm.Reference
    for (const [name, value] of Object.entries(hostApi)) await host.set(name, value)
    const start = (await context.eval(BOOTSTRAP, { reference: true })) as ivm.Reference
    const module = await isolate.compileModule(`${code}\n${WRAPPER}`, { filename: 'transformation.js' })
    await module.instantiate(context, (specifier) => {
      throw new Error(`import from ${specifier} failed. Module not found.`)
    })
    await module.evaluate()
    const exported = ['transformEvent', 'transformBatch'].filter((name) => module.namespace.getSync(name, { reference: true })?.typeof === 'function')
    if (exported.length !== 1) return { results: failAll(`Expected one of transformEvent,transformBatch. Found ${exported.join(',')}`), logs, elapsedMs: performance.now() - started }
    const runner = (await module.namespace.get('__pqlkitRunner', { reference: true })) as ivm.Reference
    type Output = { output?: Record<string, unknown>; error?: string; metadata: Record<string, unknown> }
    const run = new Promise<Output[]>((resolve, reject) => {
      const payload = new ivm.ExternalCopy({ kind: exported[0], events }).copyInto()
      start
        .apply(undefined, [runner, new ivm.Reference(resolve), new ivm.Reference((reason: string) => reject(new Error(reason))), payload], { timeout: limits.syncTimeoutMs })
        .catch((error: Error) => reject(error))
    })
    const timedOut = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Timed out')), limits.timeoutMs)))
    const outputs = await Promise.race([run, timedOut])
    return { results: toResults(events, outputs), logs, elapsedMs: performance.now() - started }
  } catch (error) {
    return { results: failAll((error as Error).message), logs, elapsedMs: performance.now() - started }
  } finally {
    clearTimeout(timer)
    if (!isolate.isDisposed) isolate.dispose()
  }
}

/** Calls to these go out directly; with `RunOptions.egress`, any other goes through it. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** rudder-transformer's service rules: errors without metadata fail the batch; input events with no output are filtered. */
function toResults(
  events: TransformerEvent[],
  outputs: { output?: Record<string, unknown>; error?: string; metadata: Record<string, unknown> }[]
): TransformerResult[] {
  const results: TransformerResult[] = []
  const answered = new Set<unknown>()
  for (const item of outputs) {
    if (item.error !== undefined) {
      const own = item.metadata.messageId !== undefined
      if (own) answered.add(item.metadata.messageId)
      else for (const event of events) answered.add(event.metadata.messageId)
      if (own) results.push({ statusCode: 400, error: item.error, metadata: item.metadata })
      else results.push(...events.map((event): TransformerResult => ({ statusCode: 400, error: item.error!, metadata: event.metadata })))
      continue
    }
    answered.add(item.metadata.messageId)
    results.push({ statusCode: 200, output: item.output!, metadata: item.metadata.messageId === undefined ? { ...events[0]?.metadata, messageId: `generated-${results.length}` } : item.metadata })
  }
  for (const event of events) if (!answered.has(event.metadata.messageId)) results.push({ statusCode: 298, metadata: event.metadata })
  return results
}
