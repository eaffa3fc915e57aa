import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PostHog } from 'posthog-node'
import { parse } from 'yaml'
import {
  DefaultHandoffSender,
  generateEvents,
  httpsPostJson,
  loadModel,
  officialHubSpotApi,
  SegmentMessage,
  segmentMessageToProductEvent,
  simulate,
  Transport
} from '@pqlkit/core'
import * as plugin from '@pqlkit/posthog-plugin'
import { JsonLog, openDatabase, SECRET_HEADER, startServer } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'
import { drained, serverSnapshot, sqliteFile } from '../server/harness'
import { pluginMeta, setUpWithServerFetch, startCapture } from '../../harness/posthog/plugin-server'
import { fakeSlack, freezeDate, restoreFakes } from '../../harness/fakes'

/**
 * SPEC §6 end to end, both PostHog paths, on one generated stream (80 users, 21 days):
 * posthog-node → a fake PostHog capture (person processing) → the plugin → HubSpot, and the
 * same events as PostHog's webhook destination posts them → `pqlkit serve` → HubSpot. Each
 * HubSpot must end up holding what `pqlkit simulate` computes from the stream.
 */
const MODEL_TEXT = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const MODEL = loadModel(MODEL_TEXT)
const NOW = Date.parse('2026-11-01T00:00:00.000Z')
const MESSAGES = generateEvents({ profile: 'project-management', users: 80, days: 21, end: new Date(NOW).toISOString(), seed: 61 })
const EXPECTED = simulate(MODEL, MESSAGES.map((message) => segmentMessageToProductEvent(message)), NOW)
const SECRET = 'a-shared-secret-of-some-length'

let emulator: Emulator
const slackPosts: string[] = []

beforeAll(async () => {
  freezeDate(NOW)
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 } })
  // Slack is faked: both paths post with Node's https (the plugin server's fetch is node-fetch).
  fakeSlack(slackPosts)
})
beforeEach(() => {
  emulator.reset()
  slackPosts.length = 0
})
afterAll(async () => {
  restoreFakes()
  await emulator.stop()
})

/** What an app instrumented with posthog-node sends for each of the stream's calls. */
function capture(client: PostHog, message: SegmentMessage): void {
  const distinctId = message.userId!
  const timestamp = new Date(message.timestamp)
  const uuid = message.messageId
  const groupId = message.groupId ?? message.context?.groupId
  if (message.type === 'identify') {
    client.capture({ distinctId, event: '$identify', properties: { $set: message.traits }, groups: groupId ? { company: groupId } : undefined, timestamp, uuid })
  } else if (message.type === 'group') {
    const properties = { $group_type: 'company', $group_key: groupId, $group_set: message.traits }
    client.capture({ distinctId, event: '$groupidentify', properties, timestamp, uuid })
  } else {
    const email = message.context?.traits?.email
    const properties = { ...message.properties, ...(email ? { email } : {}) }
    client.capture({ distinctId, event: message.event!, properties, groups: groupId ? { company: groupId } : undefined, timestamp, uuid })
  }
}

describe('PostHog end to end', () => {
  it('posthog-node → capture → plugin → HubSpot stores what pqlkit simulate computes', async () => {
    const meta = pluginMeta({ hubspotAccessToken: emulator.accessToken, model: JSON.stringify(parse(MODEL_TEXT)), hubspotBaseUrl: emulator.url })
    setUpWithServerFetch(meta)
    const server = await startCapture(meta)
    const client = new PostHog(server.apiKey, { host: server.url, flushAt: 100, flushInterval: 50, fetchRetryCount: 0 })
    client.on('error', (error) => {
      throw error
    })
    for (const message of MESSAGES) capture(client, message)
    await client.shutdown()
    await server.idle()
    await plugin.teardownPlugin!(meta)
    await server.stop()

    expect(server.events).toHaveLength(MESSAGES.length)
    expect(server.deliveries.filter((delivery) => delivery.error)).toEqual([])
    expect(differencesFromSimulate(snapshot(emulator), EXPECTED)).toEqual([])
    expect(EXPECTED.subjects.filter((subject) => subject.subject === 'contact')).toHaveLength(80)
    expectHandoffsOnce()
  }, 120_000)

  it('webhook bodies → pqlkit serve → HubSpot stores what pqlkit simulate computes', async () => {
    // The events exactly as PostHog holds them (person attached), from the same posthog-node run.
    const capturing = await startCapture()
    const client = new PostHog(capturing.apiKey, { host: capturing.url, flushAt: 100, flushInterval: 50, fetchRetryCount: 0 })
    for (const message of MESSAGES) capture(client, message)
    await client.shutdown()
    await capturing.idle()
    await capturing.stop()

    const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
    const sender = new DefaultHandoffSender({ post: httpsPostJson, api, portalId: 123456, now: () => NOW })
    const file = sqliteFile()
    const running = await startServer({
      db: openDatabase(file),
      model: MODEL,
      api,
      handoffs: sender,
      secret: SECRET,
      port: 0,
      now: () => NOW,
      log: new JsonLog({ write: () => true }),
      gatherMs: 20,
      pollMs: 50
    })
    const db = openDatabase(file)
    const statuses: Record<number, number> = {}
    // PostHog's webhook destination: one event per request, many requests in flight.
    const bodies = capturing.events.map((event) => {
      const { person, ...rest } = event
      return JSON.stringify({ event: { ...rest, url: 'https://us.posthog.com/project/1/events' }, person: { id: person?.uuid, properties: person?.properties }, groups: {} })
    })
    for (let start = 0; start < bodies.length; start += 50) {
      const answers = await Promise.all(
        bodies.slice(start, start + 50).map((body) =>
          fetch(`${running.url}/posthog`, { method: 'POST', headers: { 'content-type': 'application/json', [SECRET_HEADER]: SECRET }, body })
        )
      )
      for (const answer of answers) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
    }
    await drained(db)
    await running.close()

    expect(statuses).toEqual({ 200: MESSAGES.length })
    expect(differencesFromSimulate(await serverSnapshot(emulator, db), EXPECTED)).toEqual([])
    await db.close()
    expectHandoffsOnce()
  }, 120_000)
})

function expectHandoffsOnce(): void {
  const tasks = (emulator.dump() as { tasks: { properties: Record<string, string> }[] }).tasks
  const subjects = tasks.map((task) => task.properties.hs_task_subject)
  expect(tasks.length).toBeGreaterThan(0)
  expect(new Set(subjects).size).toBe(subjects.length)
  expect(slackPosts.filter((post) => post.includes('enters Sales-Ready'))).toHaveLength(tasks.length)
}
