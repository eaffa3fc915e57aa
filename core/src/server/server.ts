import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RetryableError } from '../engine/errors'
import type { HandoffSender } from '../handoff/sender'
import type { HubSpotCalls } from '../hubspot/api'
import { HubSpotRequestError } from '../hubspot/transport'
import type { Model } from '../model/compile'
import { createPipeline } from '../pipeline/create'
import type { Pipeline } from '../pipeline/sync'
import type { Database } from './database'
import { drainRound, RoundReport, sendOutbox } from './drain'
import { OutboxCollector, OutboxSender } from './handoffs'
import { Inbox } from './inbox'
import type { JsonLog } from './log'
import { ServerMetrics } from './metrics'
import { migrate } from './migrations'
import { RECEIVERS, Receiver, RequestError } from './receivers'
import { DatabaseStateStore } from './subject-store'
import { sweepDatabase } from './sweep'

/** One webhook body: a batch of events must fit (Segment batches up to 4,000). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024
export const MAX_EVENTS_PER_REQUEST = 4000

export type ServerOptions = {
  db: Database
  model: Model
  api: HubSpotCalls
  /** The shared secret: PostHog's and RudderStack's header, Segment's Shared Secret, the HTTP API's write key. */
  secret: string
  port?: number
  hostname?: string
  /** Sends the hand-offs that fire, through the outbox; without it they are evaluated and marked, never sent. */
  handoffs?: HandoffSender
  groupType?: string
  log: JsonLog
  now?: () => number
  /** The most events one drain round takes (default 5,000): a subject's burst is one write. */
  batchSize?: number
  /** After the inbox goes from empty to not, how long the drain gathers before its round (default 1 s). */
  gatherMs?: number
  /** How often an idle drain looks for work another process accepted (default 500 ms). */
  pollMs?: number
  /** The in-server sweep's period (default 1 hour; 0: off). */
  sweepIntervalMs?: number
  sweepHorizonDays?: number
}

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
  const { db, model, log } = options
  const now = options.now ?? Date.now
  await migrate(db)
  const store = new DatabaseStateStore(db)
  const outbox = new OutboxCollector()
  const pipeline = createPipeline({ model, api: options.api, store, handoffs: options.handoffs ? outbox : undefined })
  const metrics = new ServerMetrics(db, options.api.transport, now)
  const token = new TokenCheck(pipeline, log)
  const sender = options.handoffs ? new OutboxSender(model, options.api, options.handoffs) : undefined
  const loop = new DrainLoop(options, pipeline, store, outbox, sender, metrics, now)
  const receiving = { ...options, inbox: new Inbox(db) }

  const server = createServer((request, response) => {
    route(request, receiving, metrics, token, loop).then(
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
  token.check()
  loop.start()
  return {
    url: `http://${host}:${address.port}`,
    server,
    metrics,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
      await loop.stop()
      await db.close()
    }
  }
}

/** Readiness: the token is checked by reconciling the portal (bootstrap), tried again until HubSpot answers. */
class TokenCheck {
  status: 'unchecked' | 'accepted' | 'rejected' = 'unchecked'
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly pipeline: Pipeline,
    private readonly log: JsonLog
  ) {}

  check(): void {
    this.pipeline.bootstrap().then(
      (report) => {
        this.status = 'accepted'
        for (const property of report.incompatible) this.log.warn('incompatible HubSpot property left out of every write', { property: `${property.objectType}.${property.name}` })
      },
      (error: unknown) => {
        if (error instanceof HubSpotRequestError && (error.status === 401 || error.status === 403)) {
          this.status = 'rejected'
          this.log.error('HubSpot rejected the access token: check the private app token and its CRM scopes')
          return
        }
        this.log.warn('HubSpot could not be reconciled yet; trying again', { error: (error as Error).message })
        this.timer = setTimeout(() => this.check(), error instanceof RetryableError ? Math.min(60_000, Math.max(1000, error.retryAfterMs)) : 10_000)
        this.timer.unref()
      }
    )
  }
}

/**
 * The drain: rounds while there is work, the outbox after each, a gather pause when work
 * arrives after a quiet spell, a wait for HubSpot's window when it throttles. Each round is
 * under the database's lease, so across processes one drains at a time.
 */
class DrainLoop {
  private running = false
  private done: Promise<void> = Promise.resolve()
  private wake: (() => void) | undefined
  private lastSweep: number

  constructor(
    private readonly options: ServerOptions,
    private readonly pipeline: Pipeline,
    private readonly store: DatabaseStateStore,
    private readonly outbox: OutboxCollector,
    private readonly sender: OutboxSender | undefined,
    private readonly metrics: ServerMetrics,
    private readonly now: () => number
  ) {
    this.lastSweep = now()
  }

  start(): void {
    this.running = true
    this.done = this.run()
  }

  /** New events were committed in this process: the drain need not wait for its poll. */
  notify(): void {
    this.wake?.()
  }

  async stop(): Promise<void> {
    this.running = false
    this.notify()
    await this.done
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
    })
  }

  private async run(): Promise<void> {
    const { db, log } = this.options
    const batchSize = this.options.batchSize ?? 5000
    let idle = true
    while (this.running) {
      let round: RoundReport | undefined
      try {
        if (idle) await this.sleep(this.options.gatherMs ?? 1000)
        if (!this.running) break
        round = await drainRound({ db, pipeline: this.pipeline, store: this.store, outbox: this.outbox, batchSize }, this.now())
        if (round) this.count(round)
        if (this.sender) {
          const sent = await sendOutbox(db, this.sender, this.now())
          if (sent) for (const result of ['sent', 'suppressed', 'failed', 'retrying'] as const) if (sent[result] > 0) this.metrics.handoffs.inc({ result }, sent[result])
        }
        await this.sweepWhenDue()
      } catch (error) {
        log.error('drain round failed; trying again', { error: (error as Error).message })
        await this.sleep(1000)
        continue
      }
      idle = round === undefined || round.events < batchSize
      if (round?.throttledMs) {
        log.warn('HubSpot is rate-limiting; the inbox keeps accepting', { waitMs: round.throttledMs })
        await this.sleep(Math.min(60_000, round.throttledMs))
      } else if (idle) await this.sleep(this.options.pollMs ?? 500)
    }
  }

  private count(round: RoundReport): void {
    for (const result of ['ok', 'invalid', 'retryable'] as const) if (round[result] > 0) this.metrics.processed.inc({ result }, round[result])
    if (round.events > 0) this.options.log.info('drained', { events: round.events, ok: round.ok, invalid: round.invalid, retryable: round.retryable })
    for (const problem of round.problems) this.options.log.warn('problem', { problem })
  }

  private async sweepWhenDue(): Promise<void> {
    const interval = this.options.sweepIntervalMs ?? 3_600_000
    if (interval <= 0 || this.now() - this.lastSweep < interval) return
    this.lastSweep = this.now()
    const report = await sweepDatabase(
      { db: this.options.db, pipeline: this.pipeline, store: this.store, outbox: this.outbox },
      this.now(),
      this.options.sweepHorizonDays ?? 180
    )
    if (report) this.options.log.info('swept', { examined: report.examined, changed: report.changed })
  }
}

type Answer = { status: number; body: unknown; type?: string }

function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?')[0]
}

async function route(request: IncomingMessage, options: ServerOptions & { inbox: Inbox }, metrics: ServerMetrics, token: TokenCheck, loop: DrainLoop): Promise<Answer> {
  const path = pathOf(request)
  if (request.method === 'GET') {
    if (path === '/healthz') return { status: 200, body: { status: 'ok' } }
    if (path === '/readyz') return readiness(options.db, token)
    if (path === '/metrics') return { status: 200, body: await metrics.registry.metrics(), type: metrics.registry.contentType }
  }
  const receiver = RECEIVERS.find((candidate) => candidate.path === path)
  if (!receiver) throw new RequestError(404, `no such endpoint: POST ${RECEIVERS.map((r) => r.path).join(', ')} take events; GET /healthz, /readyz, /metrics`)
  if (request.method !== 'POST') throw new RequestError(405, `${path} takes POST`)
  return receive(request, receiver, options, metrics, loop)
}

async function readiness(db: Database, token: TokenCheck): Promise<Answer> {
  let database = 'ok'
  try {
    await db.all('SELECT 1 AS one')
  } catch (error) {
    database = `unreachable: ${(error as Error).message}`
  }
  const ready = database === 'ok' && token.status !== 'rejected'
  return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', database, hubspotToken: token.status } }
}

async function receive(request: IncomingMessage, receiver: Receiver, options: ServerOptions & { inbox: Inbox }, metrics: ServerMetrics, loop: DrainLoop): Promise<Answer> {
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
    loop.notify()
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
