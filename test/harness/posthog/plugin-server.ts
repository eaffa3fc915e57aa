import { createServer, IncomingMessage, request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { randomUUID } from 'node:crypto'
import { ProcessedPluginEvent, RetryError } from '@posthog/plugin-scaffold'
import * as plugin from '@pqlkit/posthog-plugin'
import type { PluginConfig, PqlkitMeta } from '@pqlkit/posthog-plugin'

/** A plugin's storage as the plugin server keeps it (here in memory): JSON values by key. */
export function memoryStorage(): PqlkitMeta['storage'] & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>()
  return {
    data,
    get: async (key, defaultValue) => (data.has(key) ? data.get(key) : defaultValue),
    set: async (key, value) => void data.set(key, value),
    del: async (key) => void data.delete(key)
  }
}

/**
 * The `meta` the plugin server hands a plugin: its config (every value a string, as PostHog
 * stores them), a per-plugin `global`, `storage`. pqlkit uses nothing else; the rest is there
 * so a plugin reaching for it would fail here as it fails in production: not at all.
 */
export function pluginMeta(config: PluginConfig): PqlkitMeta {
  const unused = new Proxy({}, { get: () => () => Promise.resolve() })
  return {
    config,
    global: {} as PqlkitMeta['global'],
    attachments: {},
    storage: memoryStorage(),
    cache: unused as PqlkitMeta['cache'],
    geoip: unused as PqlkitMeta['geoip'],
    jobs: {},
    metrics: {},
    utils: unused as PqlkitMeta['utils']
  }
}

type FetchInit = { method?: string; headers?: Record<string, string>; body?: string }
type FetchAnswer = { status: number; headers: { forEach(callback: (value: string, key: string) => void): void }; text(): Promise<string> }

/**
 * The classic plugin server's `fetch` is node-fetch: Node's http and https modules underneath
 * (so nock sees a plugin's Slack posts as it sees the CLI's).
 */
export function serverFetch(url: string, init: FetchInit = {}): Promise<FetchAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest
    const outgoing = send(url, { method: init.method ?? 'GET', headers: init.headers }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', reject)
      response.on('end', () => {
        const headers = Object.entries(response.headers).flatMap(([key, value]) => (value === undefined ? [] : [[key, String(value)] as const]))
        resolve({
          status: response.statusCode ?? 0,
          headers: { forEach: (callback) => headers.forEach(([key, value]) => callback(value, key)) },
          text: async () => Buffer.concat(chunks).toString('utf8')
        })
      })
    })
    outgoing.on('error', reject)
    outgoing.end(init.body)
  })
}

/** `setupPlugin` with the plugin server's globals: its `fetch` is what the plugin keeps. */
export function setUpWithServerFetch(meta: PqlkitMeta): void {
  const previous = globalThis.fetch
  globalThis.fetch = serverFetch as unknown as typeof fetch
  try {
    plugin.setupPlugin!(meta)
  } finally {
    globalThis.fetch = previous
  }
}

export type Delivery = { uuid: string; attempts: number; error?: string }

/** How often the plugin server offers an event that threw RetryError (then it is given up). */
export const PLUGIN_SERVER_ATTEMPTS = 5

/**
 * The plugin server's `onEvent` loop for one ingested batch: every event at once (as the server
 * runs them), an event that throws RetryError offered again after a pause, up to
 * PLUGIN_SERVER_ATTEMPTS; any other error recorded against the event as the plugin's error log does.
 */
export async function deliver(events: ProcessedPluginEvent[], meta: PqlkitMeta, pauseMs = 20): Promise<Delivery[]> {
  return Promise.all(
    events.map(async (event) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await plugin.onEvent!(event, meta)
          return { uuid: event.uuid, attempts: attempt }
        } catch (error) {
          if (!(error instanceof RetryError) || attempt === PLUGIN_SERVER_ATTEMPTS) {
            return { uuid: event.uuid, attempts: attempt, error: `${(error as Error).name}: ${(error as Error).message}` }
          }
          await new Promise((resolve) => setTimeout(resolve, pauseMs * attempt))
        }
      }
    })
  )
}

type Captured = { event: string; distinct_id: string; uuid?: string; timestamp?: string; properties?: Record<string, unknown> }

export type Capture = {
  url: string
  apiKey: string
  /** Every event as PostHog holds it (person attached), with its delivery to the plugin if there is one. */
  events: ProcessedPluginEvent[]
  deliveries: Delivery[]
  /** Resolves when every captured batch went through the plugin. */
  idle(): Promise<void>
  stop(): Promise<void>
}

/**
 * A fake PostHog on 127.0.0.1: `POST /batch/` (gzip or plain, `api_key` checked) as
 * posthog-node sends it; person processing as PostHog does it (`$set`/`$set_once` onto the
 * person of the distinct id, `$identify`'s `$anon_distinct_id` merged into it); each event then
 * handed to the plugin (when `meta` is given) with its person, in the plugin server's
 * `ProcessedPluginEvent` shape.
 */
export async function startCapture(meta?: PqlkitMeta, apiKey = 'phc_test_project'): Promise<Capture> {
  const persons = new Map<string, { uuid: string; properties: Record<string, unknown>; created_at: string }>()
  const events: ProcessedPluginEvent[] = []
  const deliveries: Delivery[] = []
  const running = new Set<Promise<void>>()

  const personOf = (distinctId: string) => {
    let person = persons.get(distinctId)
    if (!person) persons.set(distinctId, (person = { uuid: randomUUID(), properties: {}, created_at: new Date().toISOString() }))
    return person
  }

  const toPluginEvent = (captured: Captured): ProcessedPluginEvent => {
    const properties = captured.properties ?? {}
    const person = personOf(captured.distinct_id)
    const anonymous = properties.$anon_distinct_id
    if (captured.event === '$identify' && typeof anonymous === 'string' && persons.has(anonymous) && anonymous !== captured.distinct_id) {
      Object.assign(person.properties, { ...persons.get(anonymous)!.properties, ...person.properties })
      persons.set(anonymous, person)
    }
    const setOnce = (properties.$set_once ?? {}) as Record<string, unknown>
    for (const [key, value] of Object.entries(setOnce)) if (!(key in person.properties)) person.properties[key] = value
    Object.assign(person.properties, (properties.$set ?? {}) as Record<string, unknown>)
    return {
      distinct_id: captured.distinct_id,
      ip: null,
      team_id: 1,
      event: captured.event,
      properties,
      timestamp: captured.timestamp ?? new Date().toISOString(),
      uuid: captured.uuid ?? randomUUID(),
      $set: properties.$set as Record<string, unknown> | undefined,
      $set_once: properties.$set_once as Record<string, unknown> | undefined,
      person: { uuid: person.uuid, team_id: 1, properties: { ...person.properties }, created_at: person.created_at }
    }
  }

  const server = createServer((request, response) => {
    read(request).then(
      (raw) => {
        const body = JSON.parse(raw) as { api_key?: string; batch?: Captured[] }
        if (request.url !== '/batch/' || body.api_key !== apiKey || !Array.isArray(body.batch)) {
          response.writeHead(request.url === '/batch/' ? 401 : 404, { 'content-type': 'application/json' })
          response.end(JSON.stringify({ type: 'authentication_error', detail: 'invalid project api key or path' }))
          return
        }
        const batch = body.batch.map(toPluginEvent)
        events.push(...batch)
        if (meta) {
          const run = deliver(batch, meta).then((results) => void deliveries.push(...results))
          running.add(run)
          run.finally(() => running.delete(run))
        }
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ status: 1 }))
      },
      () => {
        response.writeHead(400)
        response.end()
      }
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    events,
    deliveries,
    idle: async () => {
      while (running.size > 0) await Promise.all([...running])
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

async function read(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const body = Buffer.concat(chunks)
  return (request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8')
}
