import {
  createPipeline,
  fingerprint,
  formatIssue,
  HubSpotRequestError,
  httpsPostJson,
  KeyedLock,
  loadModel,
  Mapping,
  Model,
  ModelError,
  ModelIssue,
  officialHubSpotApi,
  Pipeline,
  ProductEvent,
  RecordResult,
  SyncReport,
  Transport
} from '@pqlkit/core'
import {
  IntegrationError,
  InvalidAuthenticationError,
  JSONLikeObject,
  MultiStatusResponse,
  PayloadValidationError,
  RetryableError
} from '@segment/actions-core'
import type { Settings } from './generated-types'

/** SPEC §5: `HUBSPOT_BASE_URL` points pqlkit at another HubSpot (the local emulator in tests). */
export function hubspotBaseUrl(): string {
  return (process.env.HUBSPOT_BASE_URL ?? 'https://api.hubapi.com').replace(/\/+$/, '')
}

const invalidModel = (issues: ModelIssue[]) =>
  new IntegrationError(`The PQL model setting is invalid: ${issues.map((issue) => formatIssue(issue, 'model')).join('; ')}`, 'INVALID_MODEL', 400)

/**
 * The model setting with the mappings known so far, compiled; its errors in Segment's terms. A
 * name the model uses but neither it nor a known mapping defines may belong to a mapping whose
 * first event this process has not seen yet (docs/mappings.md): a RetryableError naming it,
 * so Segment delivers again once it is known. Any other problem is an IntegrationError.
 */
export function modelFrom(settings: Settings, mappings: Mapping[] = []): Model {
  try {
    return loadModel(settings.model, 'model', mappings, { deliveredPerMapping: true })
  } catch (error) {
    if (!(error instanceof ModelError)) throw error
    if (error.source !== 'model') {
      const issues = error.issues.map((issue) => formatIssue(issue, 'mapping')).join('; ')
      throw new IntegrationError(`This mapping clashes with the PQL model: ${issues}`, 'INVALID_MAPPING', 400)
    }
    const problems = error.issues.filter((issue) => issue.undefinedName === undefined)
    if (problems.length > 0) throw invalidModel(problems)
    throw new RetryableError(
      `The PQL model names a signal neither the model nor a Map Event to Property mapping seen so far defines: ${error.issues.map((issue) => formatIssue(issue, 'model')).join('; ')}. ` +
        'Segment delivers again; the events go through once a mapping of that property has had an event. If no mapping defines it, fix the model or add the mapping.'
    )
  }
}

/** Test connection: every problem of the model setting except names a mapping may define (those are reported per event). */
export function checkModelSetting(settings: Settings): void {
  try {
    loadModel(settings.model, 'model')
  } catch (error) {
    if (!(error instanceof ModelError)) throw error
    const problems = error.issues.filter((issue) => issue.undefinedName === undefined)
    if (problems.length > 0) throw invalidModel(problems)
  }
}

const MAX_CACHED = 50

/**
 * What the destination knows per settings in this process: the mappings seen in events (a
 * `perform` sees only its own subscription's mapping), and the pipeline of the model merged
 * with them. A pipeline is rebuilt when a mapping is new or changed (its bootstrap creates
 * the new property); all of them share one set of per-subject locks.
 */
type Known = { locks: KeyedLock; mappings: Map<string, Mapping>; current?: { key: string; pipeline: Pipeline } }
const known = new Map<string, Known>()

/**
 * One pipeline per settings (token, model, defaults), known mappings and process, so the model
 * compiles and HubSpot is bootstrapped once per model, and concurrent batches serialise per subject.
 */
export function syncFor(settings: Settings, mapping?: Mapping): Pipeline {
  const basePath = hubspotBaseUrl()
  const key = fingerprint([settings.accessToken, basePath, settings.model, settings.portalId, settings.slackWebhook].join('\u0000'))
  let entry = known.get(key)
  if (!entry) {
    if (known.size >= MAX_CACHED) known.delete(known.keys().next().value!)
    entry = { locks: new KeyedLock(), mappings: new Map() }
    known.set(key, entry)
  }
  const mappings = new Map(entry.mappings)
  if (mapping) mappings.set(mapping.property, mapping)
  const modelKey = fingerprint(JSON.stringify([...mappings.values()].sort((a, b) => (a.property < b.property ? -1 : 1))))
  if (entry.current?.key !== modelKey) {
    // A mapping is kept once it compiles with the model, or the model waits for other mappings
    // still: one that clashes with the model is refused alone.
    let model: Model
    try {
      model = modelFrom(settings, [...mappings.values()])
    } catch (error) {
      if (error instanceof RetryableError) entry.mappings = mappings
      throw error
    }
    entry.mappings = mappings
    entry.current = {
      key: modelKey,
      pipeline: createPipeline({
        model,
        api: officialHubSpotApi({ accessToken: settings.accessToken, basePath }, new Transport()),
        handoffs: { post: httpsPostJson, portalId: settings.portalId, defaultWebhook: settings.slackWebhook, now: () => Date.now() },
        locks: entry.locks
      })
    }
  }
  return entry.current.pipeline
}

async function send(settings: Settings, events: ProductEvent[], mapping?: Mapping): Promise<SyncReport> {
  try {
    return await syncFor(settings, mapping).process(events, Date.now())
  } catch (error) {
    if (error instanceof HubSpotRequestError && (error.status === 401 || error.status === 403)) {
      throw new InvalidAuthenticationError('HubSpot rejected the access token: check the private app token and its CRM scopes')
    }
    throw error
  }
}

function retryable(result: Extract<RecordResult, { status: 'retryable' }>): RetryableError {
  return new RetryableError(result.message, result.throttled ? 429 : 503)
}

/** Segment's datetime fields may hold epoch milliseconds; the core takes ISO 8601. */
export function isoTimestamp(value: string | number): string {
  return typeof value === 'number' ? new Date(value).toISOString() : value
}

/** `perform`: one event; its failure as Segment's error class. */
export async function performOne(settings: Settings, event: ProductEvent, mapping?: Mapping): Promise<{ handoffs: number }> {
  const report = await send(settings, [event], mapping)
  const [result] = report.results
  if (result.status === 'invalid') throw new PayloadValidationError(result.message)
  if (result.status === 'retryable') throw retryable(result)
  return { handoffs: report.handoffs.filter((handoff) => handoff.sent).length }
}

/** `performBatch`: a result per payload, so one bad record never fails the batch. */
export async function performMany<P extends object>(
  settings: Settings,
  payloads: P[],
  toProductEvent: (payload: P) => ProductEvent,
  mapping?: Mapping
): Promise<MultiStatusResponse> {
  const response = new MultiStatusResponse()
  let report: SyncReport
  try {
    report = await send(settings, payloads.map(toProductEvent), mapping)
  } catch (error) {
    // A model waiting for a mapping's first event (`modelFrom`): every record goes again.
    if (!(error instanceof RetryableError)) throw error
    payloads.forEach((payload, index) =>
      response.setErrorResponseAtIndex(index, { status: 503, errortype: 'RETRYABLE_ERROR', errormessage: error.message, sent: payload as JSONLikeObject })
    )
    return response
  }
  report.results.forEach((result, index) => {
    const sent = payloads[index] as JSONLikeObject
    if (result.status === 'ok') {
      response.setSuccessResponseAtIndex(index, { status: 200, sent, body: 'ok' })
    } else if (result.status === 'invalid') {
      response.setErrorResponseAtIndex(index, { status: 400, errortype: 'PAYLOAD_VALIDATION_FAILED', errormessage: result.message, sent })
    } else {
      const status = result.throttled ? 429 : 503
      response.setErrorResponseAtIndex(index, { status, errortype: 'RETRYABLE_ERROR', errormessage: result.message, sent })
    }
  })
  return response
}
