import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http'
import { AddressInfo } from 'node:net'
import { correlationId, dailyLimitBody, HubSpotError, rateLimitBody, searchRateLimitBody, serverError, unauthorizedBody } from './errors'
import { FaultOptions, FaultPlan, Faults } from './faults'
import { DailyQuota, DEFAULT_RATE_LIMIT, RateLimitOptions, rateLimitHeaders, RollingWindow, SEARCH_LIMIT } from './rate-limit'
import { findRoute, isSearch } from './routes'
import { Store } from './store'

/**
 * The HTTP plumbing: for each request, in order, fault injection (latency, dropped socket,
 * 5xx), the bearer-token check, rate limits (injected 429, the rolling window, search's own
 * limit), then the route. Nothing is logged: requests carry the token.
 */
export type ServerOptions = {
  accessToken: string
  portalId: number
  rateLimit: RateLimitOptions
  daily: DailyQuota
  /** Wall time in ms; rate-limit windows and the daily quota follow it. */
  now: () => number
  faults?: FaultOptions
  historyLimit?: number
}
export type EmulatorStats = { requests: number; byEndpoint: Record<string, number>; status: Record<string, number> }

const MAX_BODY = 16 * 1024 * 1024
const JSON_TYPE = 'application/json;charset=utf-8'
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * An answer held back (`holdNext`): `reached` once the request was carried out; `release()`
 * sends the answer, `drop()` destroys the connection instead (the client never hears).
 */
export type HeldAnswer = { reached: Promise<void>; release(): void; drop(): void }

type Reply = { status: number; body?: unknown; text?: string; contentType?: string; headers?: Record<string, string> }

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY) chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

export class EmulatorServer {
  readonly store: Store
  readonly faults: Faults
  private readonly window: RollingWindow
  private readonly searchWindow = new RollingWindow(SEARCH_LIMIT)
  private readonly server: Server
  private counters: EmulatorStats = { requests: 0, byEndpoint: {}, status: {} }
  private readonly holds = new Map<string, { reached(): void; released: Promise<'answer' | 'drop'> }>()

  constructor(private readonly options: ServerOptions) {
    this.store = new Store(options.portalId, options.historyLimit)
    this.faults = new Faults(options.faults)
    this.window = new RollingWindow(options.rateLimit ?? DEFAULT_RATE_LIMIT)
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error)
        if (!res.headersSent && !res.destroyed) this.reply(res, { status: 500, body: { status: 'error', message, correlationId: correlationId(), category: 'INTERNAL_ERROR' } })
      })
    })
    this.server.keepAliveTimeout = 1_000
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port))
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  /** Forgets data, counters and windows; keeps the options (faults restart their sequence). */
  reset(): void {
    this.store.reset()
    this.counters = { requests: 0, byEndpoint: {}, status: {} }
    this.window.clear()
    this.searchWindow.clear()
    this.options.daily.clear()
    this.faults.set(this.faults.active)
  }

  /**
   * Holds the answer to the next request to `endpoint` (`POST /crm/v3/objects/tasks`): the
   * request is carried out (a task created), and its answer waits until `release()`. A client
   * killed meanwhile never sees it: HubSpot did the work, the client does not know.
   */
  holdNext(endpoint: string): HeldAnswer {
    let reached!: () => void
    let settle!: (how: 'answer' | 'drop') => void
    const held: HeldAnswer = { reached: new Promise<void>((resolve) => (reached = resolve)), release: () => settle('answer'), drop: () => settle('drop') }
    this.holds.set(endpoint, { reached, released: new Promise((resolve) => (settle = resolve)) })
    return held
  }

  stats(): EmulatorStats {
    return JSON.parse(JSON.stringify(this.counters)) as EmulatorStats
  }

  private count(status: string): void {
    this.counters.status[status] = (this.counters.status[status] ?? 0) + 1
  }

  private reply(res: ServerResponse, reply: Reply): void {
    const text = reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body))
    const correlation = (reply.body as { correlationId?: string } | undefined)?.correlationId ?? correlationId()
    res.writeHead(reply.status, {
      'Content-Type': reply.contentType ?? JSON_TYPE,
      'Content-Length': Buffer.byteLength(text),
      'X-HubSpot-Correlation-Id': correlation,
      ...reply.headers
    })
    res.end(text)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const method = req.method ?? 'GET'
    const text = await readBody(req)
    if (path.startsWith('/__emulator/')) return this.control(res, method, path)

    this.counters.requests++
    const endpoint = `${method} ${path}`
    this.counters.byEndpoint[endpoint] = (this.counters.byEndpoint[endpoint] ?? 0) + 1
    const plan = this.faults.next()
    if (plan.latencyMs > 0) await sleep(plan.latencyMs)
    if (plan.drop) {
      this.count('dropped')
      req.socket.destroy()
      return
    }
    const reply = this.answer(method, path, url.searchParams, text, plan, req.headers.authorization)
    this.count(String(reply.status))
    const hold = this.holds.get(endpoint)
    if (hold) {
      this.holds.delete(endpoint)
      hold.reached()
      if ((await hold.released) === 'drop') {
        this.count('dropped')
        req.socket.destroy()
        return
      }
      if (res.destroyed) return
    }
    this.reply(res, reply)
  }

  private answer(method: string, path: string, query: URLSearchParams, text: string, plan: FaultPlan, authorization?: string): Reply {
    if (plan.serverError) {
      const { contentType, text: page } = serverError(plan.serverError.status, plan.serverError.html)
      return { status: plan.serverError.status, text: page, contentType }
    }
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]
    if (token !== this.options.accessToken) return { status: 401, body: unauthorizedBody() }
    const now = this.options.now()
    const daily = this.options.daily
    const limited = (body: unknown, exhausted = true): Reply => {
      const headers = rateLimitHeaders(this.window, now, daily)
      return { status: 429, body, headers: exhausted ? { ...headers, 'X-HubSpot-RateLimit-Remaining': '0' } : headers }
    }
    // An injected 429 is indistinguishable from a real one, headers included.
    if (plan.tooMany) return limited(rateLimitBody(this.options.portalId))
    if (isSearch(path) && method === 'POST' && !this.searchWindow.take(now)) return limited(searchRateLimitBody(), false)
    if (daily.full(now)) return limited(dailyLimitBody(this.options.portalId), false)
    if (!this.window.take(now)) return limited(rateLimitBody(this.options.portalId))
    daily.count(now)
    const headers = rateLimitHeaders(this.window, now, daily)
    try {
      const found = findRoute(method, path)
      if (!found) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `No route for ${method} ${path}`)
      let body: unknown
      try {
        body = text.trim() === '' ? undefined : JSON.parse(text)
      } catch (error) {
        throw new HubSpotError(400, 'VALIDATION_ERROR', `Invalid input JSON on line 1: ${(error as Error).message}`)
      }
      const answer = found.route.handle({
        store: this.store,
        portalId: this.options.portalId,
        timeZone: daily.timeZone,
        now,
        params: found.params,
        body,
        query,
        fails: plan.failsRecord
      })
      return { ...answer, headers }
    } catch (error) {
      if (error instanceof HubSpotError) return { status: error.status, body: error.body(), headers }
      throw error
    }
  }

  /** `/__emulator/dump`, `/__emulator/stats` and `/__emulator/reset`: no auth, not counted. */
  private control(res: ServerResponse, method: string, path: string): void {
    if (method === 'GET' && path === '/__emulator/dump') return this.reply(res, { status: 200, body: this.store.dump() })
    if (method === 'GET' && path === '/__emulator/stats') return this.reply(res, { status: 200, body: this.stats() })
    if (method === 'POST' && path === '/__emulator/reset') {
      this.reset()
      return this.reply(res, { status: 200, body: { status: 'reset' } })
    }
    this.reply(res, { status: 404, body: { status: 'error', message: `No route for ${method} ${path}`, correlationId: correlationId(), category: 'OBJECT_NOT_FOUND' } })
  }
}
