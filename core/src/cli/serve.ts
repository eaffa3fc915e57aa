import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RetryableError } from '../engine/errors'
import { describeIncompatible } from '../hubspot/bootstrap'
import { HubSpotRequestError } from '../hubspot/transport'
import { PostHogHost, PostHogOutcome } from '../hosts/posthog-host'
import type { Env } from './hubspot'
import { syncFromEnv } from './hubspot'
import { InputError, Io, Output, readModel } from './io'

/** The header PostHog's webhook destination sends the shared secret in (set under "Headers"). */
export const SECRET_HEADER = 'x-pqlkit-secret'
export const SERVE_PATH = '/posthog'
/** One webhook body: PostHog sends one event per request; a batch of events must fit too. */
export const MAX_BODY_BYTES = 1024 * 1024
export const MAX_EVENTS_PER_REQUEST = 1000
const MIN_SECRET_LENGTH = 16

export type ServeOptions = {
  host: PostHogHost
  secret: string
  port?: number
  hostname?: string
  maxBodyBytes?: number
  /** Rejected events and failures, one line each (never a token, secret or body). */
  log?: Output
}

export type RunningServer = { url: string; server: Server; close(): Promise<void> }

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
  }
}

/**
 * `pqlkit serve` (SPEC §6): PostHog's HTTP Webhook destination, or anything that can POST a
 * PostHog-shaped event, into the same wrapper the plugin runs. One PostHogHost per process, so
 * events from concurrent requests are gathered into batches and serialised per subject.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const expected = digest(options.secret)
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES
  const server = createServer((request, response) => {
    handle(request, options.host, expected, maxBody, options.log).then(
      ({ status, body, headers }) => reply(response, status, body, headers),
      (error: unknown) => {
        if (error instanceof HttpError) return reply(response, error.status, { error: error.message }, error.headers)
        if (error instanceof HubSpotRequestError) {
          const message =
            error.status === 401 || error.status === 403
              ? 'HubSpot rejected the access token: check the private app token and its CRM scopes'
              : `HubSpot: ${error.message}`
          options.log?.write(`pqlkit serve: ${message}\n`)
          return reply(response, 502, { error: message })
        }
        options.log?.write(`pqlkit serve: ${(error as Error).message}\n`)
        reply(response, 500, { error: 'pqlkit could not process the request; see the server log' })
      }
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 8787, options.hostname ?? '127.0.0.1', () => resolve())
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await options.host.drain()
    }
  }
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> }

async function handle(request: IncomingMessage, host: PostHogHost, expected: Buffer, maxBody: number, log?: Output): Promise<Answer> {
  const path = (request.url ?? '/').split('?')[0]
  if (path === '/health' && request.method === 'GET') return { status: 200, body: { status: 'ok' } }
  if (path !== SERVE_PATH) throw new HttpError(404, `no such endpoint: POST ${SERVE_PATH} takes events`)
  if (request.method !== 'POST') throw new HttpError(405, `${SERVE_PATH} takes POST`, { allow: 'POST' })
  const secret = request.headers[SECRET_HEADER]
  if (typeof secret !== 'string' || !timingSafeEqual(digest(secret), expected)) {
    throw new HttpError(401, `missing or wrong ${SECRET_HEADER} header`)
  }
  const encoding = request.headers['content-encoding']
  if (encoding !== undefined && encoding !== 'identity') throw new HttpError(415, `content-encoding ${encoding} is not accepted; send plain JSON`)
  const text = await readBody(request, maxBody)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`)
  }
  const items = Array.isArray(body) ? body : [body]
  if (items.length === 0) throw new HttpError(400, 'the body is an empty list: send an event or a list of events')
  if (items.length > MAX_EVENTS_PER_REQUEST) throw new HttpError(413, `${items.length} events in one request; at most ${MAX_EVENTS_PER_REQUEST}`)
  const outcomes = await Promise.all(items.map((item) => host.handle(fromWebhook(item))))
  for (const outcome of outcomes) if (outcome.status === 'invalid' || outcome.status === 'retryable') log?.write(`pqlkit serve: ${outcome.status}: ${outcome.message}\n`)
  const retryable = outcomes.filter((outcome): outcome is Extract<PostHogOutcome, { status: 'retryable' }> => outcome.status === 'retryable')
  const results = outcomes.map(describe)
  if (retryable.length > 0) {
    // The sender delivers the whole request again; events already applied are deduplicated by their uuid.
    const seconds = Math.max(1, Math.ceil(Math.max(...retryable.map((outcome) => outcome.retryAfterMs)) / 1000))
    return { status: 503, body: Array.isArray(body) ? { results } : results[0], headers: { 'retry-after': String(seconds) } }
  }
  if (!Array.isArray(body)) return { status: outcomes[0].status === 'invalid' ? 400 : 200, body: results[0] }
  return { status: 200, body: { results } }
}

function describe(outcome: PostHogOutcome): Record<string, string> {
  switch (outcome.status) {
    case 'ok':
      return { status: 'ok' }
    case 'skipped':
      return { status: 'skipped', reason: outcome.reason }
    default:
      return { status: outcome.status, error: outcome.message }
  }
}

/**
 * PostHog's webhook body template `{"event": "{event}", "person": "{person}", "groups": "{groups}"}`
 * nests the event; a bare PostHog event (the plugin's shape) is taken as it is.
 */
function fromWebhook(item: unknown): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return item
  const envelope = item as Record<string, unknown>
  if (typeof envelope.event !== 'object' || envelope.event === null || Array.isArray(envelope.event)) return item
  return { ...(envelope.event as Record<string, unknown>), person: envelope.person, groups: envelope.groups }
}

function readBody(request: IncomingMessage, maxBody: number): Promise<string> {
  const declared = Number(request.headers['content-length'])
  if (declared > maxBody) return Promise.reject(new HttpError(413, `the body is ${declared} bytes; at most ${maxBody}`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBody) {
        reject(new HttpError(413, `the body is over ${maxBody} bytes`))
        request.pause()
      } else chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
  response.end(text)
  // An oversized upload still streaming: answered, then the connection goes.
  if (status === 413) response.on('finish', () => response.socket?.destroy())
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export type ServeCommandOptions = { model: string; mappings?: string; port?: string; host?: string; handoffs?: boolean; 'group-type'?: string }

/** The CLI command: serves until SIGINT or SIGTERM, then writes what it gathered and exits. */
export async function serveCommand(io: Io, env: Env, options: ServeCommandOptions): Promise<number> {
  const model = readModel(io, options.model, options.mappings)
  const secret = env.PQLKIT_SERVE_SECRET ?? ''
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new InputError(`set PQLKIT_SERVE_SECRET to a shared secret of at least ${MIN_SECRET_LENGTH} characters (PostHog sends it in the ${SECRET_HEADER} header)`)
  }
  const port = Number(options.port ?? 8787)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InputError('--port takes a port number')
  const pipeline = syncFromEnv(env, model, options.handoffs === true)
  // The portal is reconciled before listening: a property of an incompatible type is named
  // first. A HubSpot outage does not keep the server down; the first batch tries again.
  try {
    for (const property of (await pipeline.bootstrap()).incompatible) io.stderr.write(`${describeIncompatible(property)}\n`)
  } catch (error) {
    if (!(error instanceof RetryableError)) throw error
    io.stderr.write(`pqlkit serve: HubSpot could not be reconciled yet (${error.message}); the first batch tries again\n`)
  }
  const host = new PostHogHost(pipeline, { groupType: options['group-type'] })
  const running = await startServer({ host, secret, port, hostname: options.host, log: io.stderr })
  io.stdout.write(`pqlkit serve: listening on ${running.url}${SERVE_PATH}\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await running.close()
  io.stdout.write('pqlkit serve: stopped\n')
  return 0
}
