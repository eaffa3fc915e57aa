import {
  Clock,
  createPipeline,
  DEFAULT_BASE,
  FetchLike,
  fingerprint,
  HubSpotApi,
  HubSpotRequestError,
  Model,
  parseModel,
  Pipeline,
  ProductEvent,
  RetryableError,
  RetryPolicy,
  segmentMessageToProductEvent,
  Transport,
  ValidationError
} from '@pqlkit/core/portable'
import type { Settings } from './settings'

/** The error classes the Functions runtime defines (Segment's docs: errors and error handling). */
export type FunctionErrors = {
  RetryError: new (message: string) => Error
  ValidationError: new (message: string) => Error
  EventNotSupported: new (message: string) => Error
  InvalidEventPayload: new (message: string) => Error
}

/**
 * What the handlers take from the runtime: its `fetch` (node-fetch), its error classes, and
 * where a batch's problems go (a hand-off not sent, a property left out): `console.warn`,
 * which Segment shows in the Function's logs and, for a failed event, in Event Delivery.
 */
export type FunctionRuntime = { fetch: FetchLike; errors: FunctionErrors; warn(line: string): void }

/**
 * One event's answer in `onBatch`'s array (Segment: a status per event; 5xx are retried,
 * others dropped). `kind` names the Functions error a single-event handler throws for it.
 */
export type EventStatus =
  | { status: 200 }
  | { status: 400; errormessage: string; kind: 'EventNotSupported' | 'InvalidEventPayload' | 'ValidationError' }
  | { status: 500; errormessage: string }

/** A Function invocation has about 5 s: a wait HubSpot asks for beyond this is left to Segment's retry. */
export const MAX_WAIT_MS = 1_500
export const FUNCTION_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: MAX_WAIT_MS }
/** The transport's clock: monotonic wall time, so HubSpot's windows roll even where Date stands still. */
export const FUNCTION_CLOCK: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) =>
    ms <= MAX_WAIT_MS
      ? new Promise((resolve) => setTimeout(resolve, ms))
      : Promise.reject(new RetryableError(`HubSpot asked to wait ${Math.ceil(ms)} ms, more than a Segment Function's 5 s allow; Segment retries`, ms, true))
}

const SCORED = new Set(['track', 'identify', 'group'])
const MAX_CACHED = 20

/** A settings problem: no event can go until it is fixed, so Segment retries (for up to 4 hours) meanwhile. */
class SettingsProblem extends Error {}

/**
 * The Destination Function's handlers around the core. Events of one invocation are one
 * pipeline batch (`onBatch`: up to 20, or 400 on request, events), each answered on its own;
 * a pipeline per settings lives as long as the runtime's environment, reused by the
 * invocations it runs one after another. Concurrent invocations run in environments of their
 * own, sharing nothing: HubSpot's contribution log and hand-off claims keep them exact.
 */
export function pqlkitFunction(modelDocument: unknown, runtime: FunctionRuntime) {
  const { errors } = runtime
  let model: Model | Error | undefined
  const pipelines = new Map<string, Pipeline>()

  const compiled = (): Model => {
    if (model === undefined) {
      try {
        model = parseModel(modelDocument, 'PQLKIT_MODEL')
      } catch (error) {
        model = error instanceof Error ? error : new Error(String(error))
      }
    }
    if (model instanceof Error) throw new SettingsProblem(`pqlkit: fix PQLKIT_MODEL at the top of the Function's code: ${model.message.replace(/\s*\n\s*/g, '; ')}`)
    return model
  }

  const pipelineFor = (settings: Settings): Pipeline => {
    const token = settings.hubspotAccessToken?.trim()
    if (!token) throw new SettingsProblem('pqlkit: the setting hubspotAccessToken (HubSpot private app access token) is empty')
    const basePath = settings.hubspotBaseUrl?.trim().replace(/\/+$/, '') || DEFAULT_BASE
    const key = fingerprint([token, basePath, settings.portalId ?? '', settings.slackWebhook ?? ''].join('\u0000'))
    let pipeline = pipelines.get(key)
    if (!pipeline) {
      if (pipelines.size >= MAX_CACHED) pipelines.delete(pipelines.keys().next().value!)
      const portalId = Number(settings.portalId)
      pipeline = createPipeline({
        model: compiled(),
        api: new HubSpotApi({ accessToken: token, basePath }, new Transport(FUNCTION_CLOCK, FUNCTION_RETRY), runtime.fetch),
        handoffs: {
          post: async (url, body) => ({ status: (await runtime.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status }),
          portalId: Number.isInteger(portalId) && portalId > 0 ? portalId : undefined,
          defaultWebhook: settings.slackWebhook?.trim() || undefined,
          now: () => Date.now()
        }
      })
      pipelines.set(key, pipeline)
    }
    return pipeline
  }

  /** Every message's status, in order; a problem of the whole invocation is thrown as the runtime's RetryError. */
  const run = async (messages: unknown[], settings: Settings): Promise<EventStatus[]> => {
    const statuses: EventStatus[] = messages.map(() => ({ status: 200 }))
    const events: { index: number; event: ProductEvent }[] = []
    messages.forEach((message, index) => {
      const type = (message as { type?: unknown } | null)?.type
      if (typeof message === 'object' && message !== null && !SCORED.has(String(type))) {
        statuses[index] = { status: 400, kind: 'EventNotSupported', errormessage: `pqlkit scores track, identify and group calls, not ${String(type)}` }
        return
      }
      try {
        events.push({ index, event: segmentMessageToProductEvent(message) })
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error
        statuses[index] = { status: 400, kind: 'InvalidEventPayload', errormessage: `pqlkit: ${error.message}` }
      }
    })
    if (events.length === 0) return statuses
    try {
      const report = await pipelineFor(settings).process(
        events.map(({ event }) => event),
        Date.now()
      )
      for (const problem of report.problems) runtime.warn(`pqlkit: ${problem}`)
      report.results.forEach((result, i) => {
        const index = events[i].index
        if (result.status === 'invalid') statuses[index] = { status: 400, kind: 'ValidationError', errormessage: `pqlkit: ${result.message}` }
        if (result.status === 'retryable') statuses[index] = { status: 500, errormessage: `pqlkit: HubSpot could not take this event (${result.message}); Segment retries` }
      })
    } catch (error) {
      if (error instanceof SettingsProblem) throw new errors.RetryError(error.message)
      if (error instanceof HubSpotRequestError && (error.status === 401 || error.status === 403)) {
        throw new errors.RetryError('pqlkit: HubSpot rejected the access token: check the hubspotAccessToken setting and its CRM scopes')
      }
      // Anything else would drop the invocation's events: Segment retries them instead.
      throw new errors.RetryError(`pqlkit: ${error instanceof Error ? error.message : String(error)}`)
    }
    return statuses
  }

  /** `onTrack`, `onIdentify`, `onGroup`: one event; its failure as the runtime's error class. */
  const onEvent = async (message: unknown, settings: Settings): Promise<void> => {
    const [status] = await run([message], settings)
    if (status.status === 400) throw new errors[status.kind](status.errormessage)
    if (status.status === 500) throw new errors.RetryError(status.errormessage)
  }

  /** `onBatch`: a status per event, in order (`{ status, errormessage }`). */
  const onBatch = async (messages: unknown[], settings: Settings): Promise<{ status: number; errormessage?: string }[]> =>
    (await run(messages, settings)).map((status) => (status.status === 200 ? { status: 200 } : { status: status.status, errormessage: status.errormessage }))

  return { onEvent, onBatch }
}
