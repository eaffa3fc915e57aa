import {
  createPipeline,
  Gathered,
  Gatherer,
  HandedBackContact,
  HubSpotApi,
  Model,
  parseModel,
  Pipeline,
  ProductEvent,
  Timers,
  Transport,
  ValidationError
} from '@pqlkit/core/portable'
import { fetchFromFetchV2, Sandbox, SANDBOX_CLOCK, SANDBOX_RETRY } from './sandbox'
import { Settings, TOKEN_CREDENTIAL } from './settings'
import { isScored, toProductEvent } from './to-product-event'

/** An `identify` for RudderStack's HubSpot destination: the contact's changed properties, absolute, as traits. */
export type IdentifyOutput = {
  type: 'identify'
  messageId: string
  userId?: string
  anonymousId?: string
  timestamp: string
  /**
   * `pqlkit.problems`: what went wrong in this event's batch besides failed events (a hand-off
   * that could not be sent, a property left out of the writes), where RudderStack shows it in
   * production: on the returned event (its `log()` lines show only in the dashboard's test run).
   */
  context: { traits: { email: string }; pqlkit?: { problems: string[] } }
  traits: Record<string, string>
}

/** RudderStack's `transformEvent(event, metadata)`: an identify, null (nothing for HubSpot), or a throw (this event failed). */
export type TransformEvent = (event: unknown, metadata?: unknown) => Promise<IdentifyOutput | null>

/** The gatherer's timers in a sandbox with none: the calls made in one turn form one batch. */
const SAME_TURN: Timers = {
  setTimeout: (callback) => {
    Promise.resolve().then(callback)
    return undefined
  },
  clearTimeout: () => undefined
}

/**
 * RudderStack calls `transformEvent` for every event of a batch at once (its wrapper maps the
 * batch to concurrent calls). The calls made in one turn are gathered and run through the core
 * as one batch: one HubSpot read per 100 contacts instead of one per event, one identify per
 * changed contact, and each event still gets its own outcome, as only `transformEvent` allows
 * (a `transformBatch` cannot fail one event without failing all).
 */
export function pqlkit(modelDocument: unknown, settings: Settings, sandbox: Sandbox): TransformEvent {
  let model: Model | Error | undefined
  const now = () => Date.now()
  const gatherer = new Gatherer(
    { process: (events, at) => pipelineFor(model as Model, settings, sandbox).process(events, at) },
    { windowMs: 0, maxBatch: Number.MAX_SAFE_INTEGER, timers: SAME_TURN, now }
  )
  const handle = async (message: unknown): Promise<IdentifyOutput | null> => {
    if (!isScored(message)) return null
    // Parsed in the call itself, so its error is raised in transformEvent's frame.
    if (model === undefined) {
      try {
        model = parseModel(modelDocument, 'PQLKIT_MODEL')
      } catch (error) {
        model = error instanceof Error ? error : new Error(reason(error))
      }
    }
    if (model instanceof Error) throw new Error(`pqlkit: ${reason(model)}`)
    let event: ProductEvent
    try {
      event = toProductEvent(message)
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      throw new Error(`pqlkit: ${reason(error)}`)
    }
    return outcome(await gatherer.submit(event), message, event, now())
  }
  return async (message) => {
    try {
      return await handle(message)
    } catch (error) {
      // RudderStack reports an error by its stack cut at transformEvent's last frame (often
      // just its first line), and a thrown value without a stack fails the whole batch: every
      // failure leaves as an Error whose one-line message carries the whole reason.
      throw error instanceof Error && error.message.startsWith('pqlkit: ') && !error.message.includes('\n') ? error : new Error(`pqlkit: ${reason(error)}`)
    }
  }
}

/** Any thrown value's reason on one line (a model error's issues joined by `; `). */
export function reason(error: unknown): string {
  const message =
    error instanceof Error
      ? error.message
      : typeof error === 'string'
        ? error
        : typeof (error as { message?: unknown })?.message === 'string'
          ? (error as { message: string }).message
          : JSON.stringify(error) ?? String(error)
  return message.replace(/^pqlkit: /, '').replace(/:?\s*\n\s*/g, (gap) => (gap.startsWith(':') ? ': ' : '; ')).trim()
}

/** A pipeline per batch: the credential is read when the batch runs, and no state outlives it. */
function pipelineFor(model: Model, settings: Settings, sandbox: Sandbox): Pipeline {
  const token = sandbox.getCredential(TOKEN_CREDENTIAL)
  if (typeof token !== 'string' || token.trim() === '') {
    throw new Error(`the credential ${TOKEN_CREDENTIAL} is not set: add it under Settings → Credentials`)
  }
  const now = Date.now()
  return createPipeline({
    model,
    api: new HubSpotApi(
      { accessToken: token.trim(), basePath: settings.hubspotBaseUrl },
      new Transport(SANDBOX_CLOCK, SANDBOX_RETRY),
      fetchFromFetchV2(sandbox.fetchV2)
    ),
    handoffs: {
      post: async (url, body) => ({ status: (await sandbox.fetchV2(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status }),
      portalId: settings.portalId,
      defaultWebhook: settings.defaultSlackWebhook,
      allowedHosts: settings.slackHosts,
      now: () => now
    },
    handBackContacts: true
  })
}

/** One event's answer: its identify when it carries its contact's changes, null, or a throw. */
function outcome({ result, report, index }: Gathered, message: unknown, event: ProductEvent, now: number): IdentifyOutput | null {
  if (report.results.every((candidate) => candidate.status === 'retryable')) {
    const first = report.results[0]
    throw new Error(
      `pqlkit: HubSpot could not take this batch (${first.status === 'retryable' ? first.message : ''}); send the events again once it is back`
    )
  }
  if (result.status === 'invalid') throw new Error(`pqlkit: ${result.message}`)
  if (result.status === 'retryable') throw new Error(`pqlkit: HubSpot could not take this event (${result.message}); send it again later`)
  // Each changed contact's identify rides on its last event that succeeded.
  const contact = report.contacts?.find(
    (candidate) => candidate.events.filter((i) => report.results[i].status === 'ok').pop() === index
  )
  return contact ? identify(contact, message, event, now, report.problems) : null
}

function identify(contact: HandedBackContact, message: unknown, event: ProductEvent, now: number, problems: string[]): IdentifyOutput {
  const anonymousId = (message as { anonymousId?: unknown }).anonymousId
  return {
    type: 'identify',
    messageId: `${event.messageId}-pqlkit`,
    ...(event.userId === undefined ? {} : { userId: event.userId }),
    ...(typeof anonymousId === 'string' ? { anonymousId } : {}),
    timestamp: new Date(now).toISOString(),
    context: { traits: { email: contact.email }, ...(problems.length > 0 ? { pqlkit: { problems: [...problems] } } : {}) },
    traits: { ...contact.properties, email: contact.email }
  }
}
