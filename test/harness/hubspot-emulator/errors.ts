import { randomUUID } from 'node:crypto'

/**
 * HubSpot's error bodies. Every non-2xx answer of the CRM v3/v4 APIs is
 * `{ status: 'error', message, correlationId, category, subCategory?, context?, errors? }`
 * (the client's `Error`/`StandardError` models); rate limits use their own shape with
 * `errorType`/`policyName` instead of `category` (see `rateLimitBody`).
 */
export type ErrorDetail = { message: string; code?: string; in?: string; context?: Record<string, string[]> }

export type ErrorBody = {
  status: 'error'
  message: string
  correlationId: string
  category: string
  subCategory?: string
  context?: Record<string, string[]>
  errors?: ErrorDetail[]
}

/** A per-record error inside a 207 (the client's `StandardError`, without a correlationId). */
export type RecordError = { status: 'error'; category: string; message: string; context: Record<string, string[]>; subCategory?: string }

export const correlationId = (): string => randomUUID()

/** Thrown by handlers; the server turns it into the HTTP answer. */
export class HubSpotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: { context?: Record<string, string[]>; errors?: ErrorDetail[]; subCategory?: string } = {}
  ) {
    super(message)
  }

  body(): ErrorBody {
    return { status: 'error', message: this.message, correlationId: correlationId(), category: this.category, ...this.extra }
  }
}

export const validation = (message: string, extra: HubSpotError['extra'] = {}): HubSpotError =>
  new HubSpotError(400, 'VALIDATION_ERROR', message, extra)

/** A body that is not what the endpoint takes: HubSpot answers with its JSON-binding message. */
export const invalidInput = (detail: string): HubSpotError => validation(`Invalid input JSON on line 1, column 1: ${detail}`)

export const notFound = (message: string): HubSpotError => new HubSpotError(404, 'OBJECT_NOT_FOUND', message)

/**
 * HubSpot answers a missing, malformed or unknown bearer token with this 401 (the same
 * message for all three as far as we could tell; an expired OAuth token would say
 * EXPIRED_AUTHENTICATION, which the emulator never does).
 */
export function unauthorizedBody(): ErrorBody {
  return {
    status: 'error',
    message:
      'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
    correlationId: correlationId(),
    category: 'INVALID_AUTHENTICATION'
  }
}

/** The 429 of the app's burst limit, as HubSpot sends it (no `category`). */
export function rateLimitBody(portalId: number) {
  return {
    status: 'error',
    message: 'You have reached your ten_secondly_rolling limit.',
    errorType: 'RATE_LIMIT',
    correlationId: correlationId(),
    policyName: 'TEN_SECONDLY_ROLLING',
    groupName: `publicapi:private-app-api-calls-ten-secondly:${portalId}`
  }
}

/** The portal's daily quota is used up (HubSpot's documented DAILY policy); it resets at midnight in the portal's time zone. */
export function dailyLimitBody(portalId: number) {
  return {
    status: 'error',
    message: 'You have reached your daily limit.',
    errorType: 'RATE_LIMIT',
    correlationId: correlationId(),
    policyName: 'DAILY',
    groupName: `publicapi:private-app-api-calls-daily:${portalId}`
  }
}

/** The CRM search endpoints' own per-second limit; observed bodies carry no policyName. */
export function searchRateLimitBody() {
  return { status: 'error', message: 'You have reached your secondly limit.', errorType: 'RATE_LIMIT', correlationId: correlationId() }
}

const REASONS: Record<number, string> = { 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }

/** A 5xx from HubSpot's edge (an HTML page) or from the API itself (JSON). */
export function serverError(status: number, html: boolean): { contentType: string; text: string } {
  const reason = REASONS[status] ?? 'Server Error'
  if (html) {
    return {
      contentType: 'text/html; charset=UTF-8',
      text: `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n`
    }
  }
  const body: ErrorBody = { status: 'error', message: reason, correlationId: correlationId(), category: 'INTERNAL_ERROR' }
  return { contentType: 'application/json;charset=utf-8', text: JSON.stringify(body) }
}

/** The per-record failure fault injection puts in a 207: retryable, named by the input's id. */
export function injectedRecordError(id: string): RecordError {
  return {
    status: 'error',
    category: 'INTERNAL_ERROR',
    message: `An internal error occurred while processing the input with id ${id}; it was not applied. Retry it.`,
    context: { ids: [id] }
  }
}
