import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { ValidationError } from '../engine/errors'
import type { Model } from '../model/compile'
import { isRecord } from '../hosts/message-values'
import { modelReads, posthogEventToProductEvent } from '../hosts/posthog-event'
import { segmentMessageToProductEvent } from '../hosts/segment-message'
import type { ProductEvent } from '../engine/event'
import type { Received } from './inbox'

/** The header PostHog's and RudderStack's webhook destinations send the shared secret in (set under "Headers"). */
export const SECRET_HEADER = 'x-pqlkit-secret'
/** Segment's Webhooks (Actions) destination: the hex HMAC-SHA1 of the payload, keyed with the Shared Secret. */
export const SIGNATURE_HEADER = 'x-signature'

/** A request refused as a whole, with the status and a message naming why. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

export type Receiver = {
  path: string
  source: string
  /** Throws RequestError(401) unless the request proves it knows the secret. */
  authenticate(headers: IncomingHttpHeaders, body: unknown, secret: string): void
  /** The request's events, each read on its own. */
  events(body: unknown, model: Model, options: { groupType: string }): Received[]
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

function sameSecret(given: unknown, secret: string): boolean {
  return typeof given === 'string' && timingSafeEqual(digest(given), digest(secret))
}

function headerSecret(headers: IncomingHttpHeaders, _body: unknown, secret: string): void {
  if (!sameSecret(headers[SECRET_HEADER], secret)) throw new RequestError(401, `missing or wrong ${SECRET_HEADER} header`)
}

/**
 * Segment signs `JSON.stringify` of the payload's data with HMAC-SHA1 (hex), and for a batch
 * only its first element (segmentio/action-destinations, destinations/webhook/index.ts
 * `extendRequest`). Re-serialising the parsed body gives Segment's exact bytes: its body is
 * the same `JSON.stringify`.
 */
export function segmentSignature(body: unknown, secret: string): string {
  const signed = Array.isArray(body) ? body[0] : body
  return createHmac('sha1', secret).update(JSON.stringify(signed), 'utf8').digest('hex')
}

function segmentAuthenticate(headers: IncomingHttpHeaders, body: unknown, secret: string): void {
  const given = headers[SIGNATURE_HEADER]
  if (typeof given !== 'string' || !/^[0-9a-f]{40}$/i.test(given)) throw new RequestError(401, `missing or malformed ${SIGNATURE_HEADER} header: set the destination's Shared Secret`)
  const expected = Buffer.from(segmentSignature(body, secret), 'hex')
  if (!timingSafeEqual(Buffer.from(given, 'hex'), expected)) throw new RequestError(401, `wrong ${SIGNATURE_HEADER}: the Shared Secret differs from PQLKIT_SERVE_SECRET`)
}

/** Segment's HTTP API: the write key as the Basic user name (no password), or `writeKey` in the body. */
function writeKeyAuthenticate(headers: IncomingHttpHeaders, body: unknown, secret: string): void {
  const authorization = headers.authorization
  const basic = typeof authorization === 'string' && /^basic /i.test(authorization) ? Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8').replace(/:.*$/s, '') : undefined
  const inBody = isRecord(body) ? body.writeKey : undefined
  if (!sameSecret(basic ?? inBody, secret)) throw new RequestError(401, 'missing or wrong write key: send it as the Basic user name (Authorization header) or as writeKey')
}

const UNUSED_SEGMENT_TYPES = new Set(['page', 'screen', 'alias'])

function describeMessage(item: unknown): string {
  const record = isRecord(item) ? item : {}
  const id = typeof record.messageId === 'string' ? record.messageId.slice(0, 64) : '(no messageId)'
  const type = typeof record.type === 'string' ? ` ${record.type.slice(0, 20)}` : ''
  const name = typeof record.event === 'string' ? ` ${JSON.stringify(record.event.slice(0, 80))}` : ''
  return `message ${id}${type}${name}`
}

function describeEvent(item: unknown): string {
  const record = isRecord(item) ? item : {}
  const id = typeof record.uuid === 'string' ? record.uuid.slice(0, 64) : '(no uuid)'
  const name = typeof record.event === 'string' ? ` ${JSON.stringify(record.event.slice(0, 80))}` : ''
  return `event ${id}${name}`
}

function read(where: string, model: Model, convert: () => ProductEvent | undefined, skippedAs: string): Received {
  try {
    const event = convert()
    if (event === undefined) return { where, skipped: skippedAs }
    if (!modelReads(model, event)) return { where, skipped: 'no signal of the model reads this event' }
    return { where, event }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error
    return { where, error: error.message }
  }
}

function segmentMessages(items: unknown[], model: Model): Received[] {
  return items.map((item) =>
    read(
      describeMessage(item),
      model,
      () => (isRecord(item) && typeof item.type === 'string' && UNUSED_SEGMENT_TYPES.has(item.type) ? undefined : segmentMessageToProductEvent(item)),
      'a call type pqlkit does not read (page, screen, alias)'
    )
  )
}

const list = (body: unknown): unknown[] => (Array.isArray(body) ? body : [body])

/**
 * PostHog's webhook body template `{"event": "{event}", "person": "{person}", "groups": "{groups}"}`
 * nests the event; a bare PostHog event (the plugin's shape) is taken as it is.
 */
function fromPostHogWebhook(item: unknown): unknown {
  if (!isRecord(item) || !isRecord(item.event)) return item
  return { ...item.event, person: item.person, groups: item.groups }
}

export const RECEIVERS: Receiver[] = [
  {
    path: '/posthog',
    source: 'posthog',
    authenticate: headerSecret,
    events: (body, model, { groupType }) =>
      list(body).map((item) => {
        const event = fromPostHogWebhook(item)
        return read(describeEvent(event), model, () => posthogEventToProductEvent(event, groupType), `a group identify of another group type than "${groupType}"`)
      })
  },
  { path: '/segment', source: 'segment', authenticate: segmentAuthenticate, events: (body, model) => segmentMessages(list(body), model) },
  { path: '/rudderstack', source: 'rudderstack', authenticate: headerSecret, events: (body, model) => segmentMessages(list(body), model) },
  {
    path: '/v1/batch',
    source: 'http-api',
    authenticate: writeKeyAuthenticate,
    events: (body, model) => {
      if (!isRecord(body) || !Array.isArray(body.batch)) throw new RequestError(400, 'the body is not a Segment batch: {"batch": [messages]}')
      const context = isRecord(body.context) ? body.context : undefined
      // The batch's own context applies to each message that has none (Segment's HTTP API).
      return segmentMessages(
        body.batch.map((message) => (context && isRecord(message) && message.context === undefined ? { ...message, context } : message)),
        model
      )
    }
  }
]
