import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HandoffSender } from '../handoff/sender'
import type { HubSpotCalls } from '../hubspot/api'
import type { Model } from '../model/compile'
import type { Database } from './database'
import { Drain, drainHere, DrainReports, DrainTuning, TokenStatus } from './drain-loop'
import { DrainThread, DrainThreadSettings } from './drain-thread'
import { Inbox } from './inbox'
import type { JsonLog } from './log'
import { ServerMetrics } from './metrics'
import { migrate } from './migrations'
import { RECEIVERS, Receiver, RequestError } from './receivers'

/** One webhook body: a batch of events must fit (Segment batches up to 4,000). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024
export const MAX_EVENTS_PER_REQUEST = 4000

export type ServerOptions = {
  db: Database
  model: Model
  /** The shared secret: PostHog's and RudderStack's header, Segment's Shared Secret, the HTTP API's write key. */
  secret: string
  port?: number
  hostname?: string
  groupType?: string
  log: JsonLog
  now?: () => number
} & (
  | /** The drain in the server's thread, on these parts (embedding, tests). */ (DrainTuning & {
      api: HubSpotCalls
      /** Sends the hand-offs that fire, through the outbox; without it they are evaluated and marked, never sent. */
      handoffs?: HandoffSender
    })
  | /** The drain in a worker thread built from plain settings (`pqlkit serve`): a round's CPU never delays an answer. */ { thread: DrainThreadSettings }
)

export type RunningServer = {
  url: string
  server: Server
  metrics: ServerMetrics
  /** Stops accepting, finishes the round in flight, stops the drain and closes the database. */
  close(): Promise<void>
}

/**
 * `pqlkit serve` (SPEC §6): every host's webhook into a durable inbox in the database,
 * answered as soon as the events are committed; a drain loop feeding the pipeline from it,
 * with the subjects' states in the same database; the outbox sending hand-offs; the sweep on
 * a schedule; health, readiness and Prometheus metrics.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { db, log } = options
  const now = options.now ?? Date.now
  await migrate(db)
  let token: TokenStatus = 'unchecked'
  let drain: Drain | undefined
  const metrics = new ServerMetrics(db, () => drain?.hubspotCounts() ?? { calls: 0, throttled: 0 }, now)
  const reports: DrainReports = {
    processed: (result, count) => metrics.processed.inc({ result }, count),
    handoffs: (result, count) => metrics.handoffs.inc({ result }, count),
    token: (status) => (token = status)
  }
  drain = 'thread' in options ? new DrainThread(options.thread, reports, log) : drainHere({ ...options, now, reports })
  const receiving = { ...options, inbox: new Inbox(db), drain, token: () => token }

  const server = createServer((request, response) => {
    route(request, receiving, metrics).then(
      ({ status, body, type }) => reply(response, status, body, type),
      (error: unknown) => {
        if (error instanceof RequestError) return reply(response, error.status, { error: error.message })
        log.error('request failed', { path: pathOf(request), error: (error as Error).message })
        reply(response, 500, { error: 'pqlkit could not store the request; see the server log' })
      }
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 8787, options.hostname ?? '127.0.0.1', () => resolve())
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  drain.start()
  return {
    url: `http://${host}:${address.port}`,
    server,
    metrics,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
      await drain.stop()
      await db.close()
    }
  }
}

type Receiving = ServerOptions & { inbox: Inbox; drain: Drain; token: () => TokenStatus }

type Answer = { status: number; body: unknown; type?: string }

function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?')[0]
}

async function route(request: IncomingMessage, options: Receiving, metrics: ServerMetrics): Promise<Answer> {
  const path = pathOf(request)
  if (request.method === 'GET') {
    if (path === '/healthz') return { status: 200, body: { status: 'ok' } }
    if (path === '/readyz') return readiness(options.db, options.token())
    if (path === '/metrics') return { status: 200, body: await metrics.registry.metrics(), type: metrics.registry.contentType }
  }
  const receiver = RECEIVERS.find((candidate) => candidate.path === path)
  if (!receiver) throw new RequestError(404, `no such endpoint: POST ${RECEIVERS.map((r) => r.path).join(', ')} take events; GET /healthz, /readyz, /metrics`)
  if (request.method !== 'POST') throw new RequestError(405, `${path} takes POST`)
  return receive(request, receiver, options, metrics)
}

async function readiness(db: Database, token: TokenStatus): Promise<Answer> {
  let database = 'ok'
  try {
    await db.all('SELECT 1 AS one')
  } catch (error) {
    database = `unreachable: ${(error as Error).message}`
  }
  const ready = database === 'ok' && token !== 'rejected'
  return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', database, hubspotToken: token } }
}

async function receive(request: IncomingMessage, receiver: Receiver, options: Receiving, metrics: ServerMetrics): Promise<Answer> {
  const encoding = request.headers['content-encoding']
  if (encoding !== undefined && encoding !== 'identity') throw new RequestError(415, `content-encoding ${encoding} is not accepted; send plain JSON`)
  const text = await readBody(request, MAX_BODY_BYTES)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    throw new RequestError(400, `the body is not JSON: ${(error as Error).message}`)
  }
  receiver.authenticate(request.headers, body, options.secret)
  const received = receiver.events(body, options.model, { groupType: options.groupType ?? 'company' })
  if (received.length === 0) throw new RequestError(400, 'the body is an empty list: send an event or a list of events')
  if (received.length > MAX_EVENTS_PER_REQUEST) throw new RequestError(413, `${received.length} events in one request; at most ${MAX_EVENTS_PER_REQUEST}`)
  const result = await options.inbox.accept(receiver.source, received, (options.now ?? Date.now)())
  const source = receiver.source
  if (result.accepted > 0) {
    metrics.accepted.inc({ source }, result.accepted)
    options.drain.notify()
  }
  if (result.duplicates > 0) metrics.duplicates.inc({ source }, result.duplicates)
  if (result.rejected.length > 0) {
    metrics.rejected.inc({ source }, result.rejected.length)
    for (const { where, error } of result.rejected) options.log.warn('event rejected', { source, event: where, error })
  }
  // A rejected event is answered 400 (the sender must not retry it); the request's other events are kept.
  return { status: result.rejected.length > 0 ? 400 : 200, body: result }
}

function readBody(request: IncomingMessage, maxBody: number): Promise<string> {
  const declared = Number(request.headers['content-length'])
  if (declared > maxBody) return Promise.reject(new RequestError(413, `the body is ${declared} bytes; at most ${maxBody}`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBody) {
        reject(new RequestError(413, `the body is over ${maxBody} bytes`))
        request.pause()
      } else chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

function reply(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  response.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)) })
  response.end(text)
  // An oversized upload still streaming: answered, then the connection goes.
  if (status === 413) response.on('finish', () => response.socket?.destroy())
}
