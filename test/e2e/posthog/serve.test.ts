import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createPipeline, loadModel, officialHubSpotApi, PostHogHost, Transport } from '@pqlkit/core'
import { MAX_BODY_BYTES, RunningServer, SECRET_HEADER, SERVE_PATH, startServer } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'

/** `pqlkit serve`: PostHog's HTTP Webhook destination into the PostHog wrapper, over HTTP. */
const MODEL = loadModel(`
version: 1
name: serve test
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, every: 1, points: 10 }]
`)
const SECRET = 'serve-test-secret-0123456789'
const NOW = Date.parse('2026-11-20T12:00:00.000Z')

let emulator: Emulator
let running: RunningServer
const logged: string[] = []
beforeAll(async () => {
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 } })
  const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(undefined, { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 }))
  const host = new PostHogHost(createPipeline({ api, model: MODEL }), { now: () => NOW, windowMs: 20 })
  running = await startServer({ host, secret: SECRET, port: 0, log: { write: (text) => logged.push(String(text)) } })
})
beforeEach(() => emulator.setFaults(undefined))
afterAll(async () => {
  await running.close()
  await emulator.stop()
})

let sequence = 0
const webhookBody = (fields: { email?: string; event?: string; uuid?: string; anonymous?: boolean } = {}) => ({
  event: {
    uuid: fields.uuid ?? `uuid-${++sequence}`,
    event: fields.event ?? 'Project Created',
    distinct_id: 'user-1',
    properties: fields.anonymous ? { $is_identified: false } : {},
    timestamp: '2026-11-19T10:00:00.000Z',
    url: 'https://us.posthog.com/project/1/events'
  },
  person: { id: 'p1', properties: fields.email === undefined ? {} : { email: fields.email } },
  groups: {}
})

async function post(body: string, headers: Record<string, string> = { [SECRET_HEADER]: SECRET }, path = SERVE_PATH) {
  const answer = await fetch(`${running.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  return { status: answer.status, headers: answer.headers, body: (await answer.json()) as Record<string, unknown> }
}
const stored = (email: string) =>
  (emulator.dump() as { contacts: { properties: Record<string, string> }[] }).contacts.find((record) => record.properties.email === email)

describe('pqlkit serve', () => {
  it('rejects a missing or wrong secret before reading anything', async () => {
    expect(await post(JSON.stringify(webhookBody({ email: 'a@example.com' })), {})).toEqual(
      expect.objectContaining({ status: 401, body: { error: `missing or wrong ${SECRET_HEADER} header` } })
    )
    expect((await post(JSON.stringify(webhookBody({ email: 'a@example.com' })), { [SECRET_HEADER]: `${SECRET}x` })).status).toBe(401)
    expect(stored('a@example.com')).toBeUndefined()
  })

  it('answers 4xx for bodies that are no events, naming the problem', async () => {
    expect(await post('{"event": ')).toEqual(expect.objectContaining({ status: 400, body: { error: expect.stringMatching(/^the body is not JSON: /) } }))
    expect((await post('[]')).body).toEqual({ error: 'the body is an empty list: send an event or a list of events' })
    expect((await post('x'.repeat(MAX_BODY_BYTES + 1))).status).toBe(413)
    expect((await post('{}', { [SECRET_HEADER]: SECRET, 'content-encoding': 'br' })).status).toBe(415)
    expect((await post('{}', { [SECRET_HEADER]: SECRET }, '/elsewhere')).status).toBe(404)
    const get = await fetch(`${running.url}${SERVE_PATH}`)
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST'])
  })

  it('takes a webhook event, and fails a bad one with 400 naming the event and the field', async () => {
    const good = await post(JSON.stringify(webhookBody({ email: 'b@example.com' })))
    expect(good).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok' } }))
    expect(stored('b@example.com')?.properties.pql_score).toBe('10')
    const bad = await post(JSON.stringify(webhookBody({ uuid: 'uuid-bad', anonymous: true })))
    expect(bad.status).toBe(400)
    expect(bad.body).toEqual({ status: 'invalid', error: 'event uuid-bad "Project Created": email: the event has no identity: it needs an email or a userId' })
  })

  it('answers a list with a result per event; one bad event fails alone', async () => {
    const body = [webhookBody({ email: 'c@example.com' }), webhookBody({ uuid: 'uuid-no-one', anonymous: true }), webhookBody({ email: 'c@example.com', event: '$pageview' })]
    const answer = await post(JSON.stringify(body))
    expect(answer.status).toBe(200)
    expect(answer.body.results).toEqual([
      { status: 'ok' },
      { status: 'invalid', error: expect.stringContaining('event uuid-no-one') },
      { status: 'skipped', reason: expect.stringContaining('no signal of the model reads this event') }
    ])
    expect(stored('c@example.com')?.properties.pql_score).toBe('10')
  })

  it('answers 503 with Retry-After while HubSpot throttles, and a redelivery counts once', async () => {
    const body = JSON.stringify(webhookBody({ email: 'd@example.com' }))
    emulator.setFaults({ seed: 5, rate429: 1 })
    const throttled = await post(body)
    expect(throttled.status).toBe(503)
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(throttled.body).toEqual({ status: 'retryable', error: expect.stringContaining('HubSpot kept rate-limiting') })
    emulator.setFaults(undefined)
    expect((await post(body)).status).toBe(200)
    expect((await post(body)).status).toBe(200)
    expect(stored('d@example.com')?.properties.pql_score).toBe('10')
    expect(logged.join('')).not.toContain(emulator.accessToken)
    expect(logged.join('')).not.toContain(SECRET)
  }, 30_000)
})

describe('the pqlkit serve command', () => {
  const cli = join(REPO_ROOT, 'core/bin/pqlkit.js')
  const model = join(REPO_ROOT, 'examples/project-management.yaml')
  const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HUBSPOT_ACCESS_TOKEN: emulator.accessToken, HUBSPOT_BASE_URL: emulator.url, ...extra })

  it('refuses to start without a shared secret (exit 1)', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--model', model], { env: env({}) })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(1)
    expect(stderr).toMatch(/set PQLKIT_SERVE_SECRET to a shared secret of at least 16 characters/)
  })

  it('listens, takes an event, and on SIGTERM writes what it gathered and exits 0', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', '0'], { env: env({ PQLKIT_SERVE_SECRET: SECRET }) })
    let stdout = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /listening on (http:\/\/\S+)/.exec(stdout)
        if (match) resolve(match[1])
      })
      child.on('close', (code) => reject(new Error(`pqlkit serve exited ${code}`)))
    })
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+${SERVE_PATH}$`))
    const body = { ...webhookBody({ email: 'cli@example.com' }), event: { ...webhookBody().event, timestamp: new Date().toISOString() } }
    const answer = await fetch(url, { method: 'POST', headers: { [SECRET_HEADER]: SECRET }, body: JSON.stringify(body) })
    expect([answer.status, await answer.json()]).toEqual([200, { status: 'ok' }])
    child.kill('SIGTERM')
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0)
    expect(stdout).toContain('pqlkit serve: stopped')
    expect(stored('cli@example.com')?.properties.projects_created).toBe('1')
  }, 30_000)
})
