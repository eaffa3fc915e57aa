import {
  createPipeline,
  fingerprint,
  formatIssue,
  HubSpotRequestError,
  httpsPostJson,
  loadModel,
  Model,
  ModelError,
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

/** The model setting, compiled; its errors in Segment's terms (an IntegrationError the UI shows). */
export function modelFrom(settings: Settings): Model {
  try {
    return loadModel(settings.model, 'model')
  } catch (error) {
    if (!(error instanceof ModelError)) throw error
    const issues = error.issues.map((issue) => formatIssue(issue, 'model')).join('; ')
    throw new IntegrationError(`The PQL model setting is invalid: ${issues}`, 'INVALID_MODEL', 400)
  }
}

const MAX_CACHED = 50
const syncs = new Map<string, Pipeline>()

/**
 * One pipeline per settings (token, model, defaults) and process, so the model compiles and
 * HubSpot is bootstrapped once, and concurrent batches serialise per subject.
 */
export function syncFor(settings: Settings): Pipeline {
  const basePath = hubspotBaseUrl()
  const key = fingerprint([settings.accessToken, basePath, settings.model, settings.portalId, settings.slackWebhook].join('\u0000'))
  let sync = syncs.get(key)
  if (!sync) {
    sync = createPipeline({
      model: modelFrom(settings),
      api: officialHubSpotApi({ accessToken: settings.accessToken, basePath }, new Transport()),
      handoffs: { post: httpsPostJson, portalId: settings.portalId, defaultWebhook: settings.slackWebhook, now: () => Date.now() }
    })
    if (syncs.size >= MAX_CACHED) syncs.delete(syncs.keys().next().value!)
    syncs.set(key, sync)
  }
  return sync
}

async function send(settings: Settings, events: ProductEvent[]): Promise<SyncReport> {
  try {
    return await syncFor(settings).process(events, Date.now())
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
export async function performOne(settings: Settings, event: ProductEvent): Promise<{ handoffs: number }> {
  const report = await send(settings, [event])
  const [result] = report.results
  if (result.status === 'invalid') throw new PayloadValidationError(result.message)
  if (result.status === 'retryable') throw retryable(result)
  return { handoffs: report.handoffs.filter((handoff) => handoff.sent).length }
}

/** `performBatch`: a result per payload, so one bad record never fails the batch. */
export async function performMany<P extends object>(
  settings: Settings,
  payloads: P[],
  toProductEvent: (payload: P) => ProductEvent
): Promise<MultiStatusResponse> {
  const report = await send(settings, payloads.map(toProductEvent))
  const response = new MultiStatusResponse()
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
