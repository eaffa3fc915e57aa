import destination from '@pqlkit/segment-destination'
import { generateEvents, loadModel, ProductEvent, simulate } from '@pqlkit/core'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { toProductEvent as trackEvent } from '../../../destinations/segment/src/trackEvent'
import { toProductEvent as identifyEvent } from '../../../destinations/segment/src/identifyContact'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { asPostHogDestination, executeEvent, payloadFor, PostHogGlobals } from '../../harness/posthog/segment-executor'
import { fakeSlack, freezeDate, restoreFakes } from '../../harness/fakes'
import { REPO_ROOT } from '../../repo-root'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'

jest.setTimeout(120_000)

/**
 * The Segment Action Destination as PostHog Cloud runs Segment destinations (its CDP's Segment
 * executor, test/harness/posthog/segment-executor.ts): the templates PostHog derives from the
 * definition, one event at a time, `perform` only, settings as inputs, its retry rule.
 */
const MODEL_TEXT = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const NOW = Date.parse('2026-03-20T12:00:00.000Z')
const slackPosts: string[] = []
let emulator: Emulator

beforeAll(async () => {
  freezeDate(NOW)
  fakeSlack(slackPosts)
  emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 1_000 } })
  process.env.HUBSPOT_BASE_URL = emulator.url
})
afterAll(async () => {
  delete process.env.HUBSPOT_BASE_URL
  restoreFakes()
  await emulator.stop()
})
// One portal for the file: the destination keeps its bootstrapped pipeline per settings, as a warm executor does.
beforeEach(() => emulator.setFaults(undefined))

/** PostHog's events and persons for a Segment stream's track and identify calls (a person's properties grow with its identifies). */
function asPostHog(messages: Record<string, any>[]): PostHogGlobals[] {
  const persons = new Map<string, Record<string, unknown>>()
  return messages.flatMap((message): PostHogGlobals[] => {
    if ((message.type !== 'track' && message.type !== 'identify') || typeof message.userId !== 'string') return []
    const person = persons.get(message.userId) ?? {}
    if (message.type === 'identify') Object.assign(person, message.traits)
    persons.set(message.userId, person)
    return [
      {
        event: {
          uuid: message.messageId,
          event: message.type === 'identify' ? '$identify' : message.event,
          distinct_id: message.userId,
          timestamp: message.timestamp,
          properties: { ...(message.properties ?? {}), ...(message.type === 'identify' ? { $set: message.traits } : {}) }
        },
        person: { id: message.userId, properties: { ...person } }
      }
    ]
  })
}

/** PostHog's inputs for the destination: its settings, the model as block YAML (PostHog inputs are text). */
const inputs = () => ({ accessToken: emulator.accessToken, model: stringify(parse(MODEL_TEXT)), portalId: '123456' })

describe("the Segment destination under PostHog's Segment executor", () => {
  const posthog = asPostHogDestination(destination)!

  it('is offered by PostHog: token-style auth (secret inputs) and an automatic preset per event type', () => {
    expect(posthog.inputs).toEqual(['accessToken', 'model', 'portalId', 'slackWebhook'])
    expect(posthog.secretInputs).toEqual(['accessToken', 'slackWebhook'])
    expect(posthog.mappings.map((mapping) => mapping.partnerAction)).toEqual(['trackEvent', 'identifyContact', 'groupCompany'])
    expect(posthog.mappings[0].inputs).toMatchObject({
      email: '{person.properties.email ?? event.properties.email}',
      user_id: '{person.id}',
      message_id: '{event.uuid}',
      event_name: '{event.event}',
      properties: { extend: '{event.properties}' }
    })
  })

  it('one event at a time, perform only: HubSpot ends up holding what simulate computes on the events PostHog hands it', async () => {
    const messages = generateEvents({ profile: 'project-management', users: 25, days: 14, end: new Date(NOW).toISOString(), seed: 5 }) as Record<string, any>[]
    const events = asPostHog(messages)
    const delivered: ProductEvent[] = []
    const failures: string[] = []
    for (const globals of events) {
      for (const invocation of await executeEvent(destination, posthog, inputs(), globals)) {
        if (invocation.error) failures.push(`${globals.event.uuid}: ${invocation.error}`)
      }
      // What the mapping handed perform, as the action reads it: the events simulate replays.
      const mapping = posthog.mappings.find((candidate) => candidate.matches(globals.event))!
      const payload = JSON.parse(JSON.stringify(payloadFor(mapping, globals)))
      delivered.push(mapping.partnerAction === 'trackEvent' ? trackEvent(payload) : identifyEvent(payload))
    }
    expect(failures).toEqual([])
    const expected = simulate(loadModel(MODEL_TEXT), delivered, NOW)
    expect(differencesFromSimulate(snapshot(emulator), expected)).toEqual([])
  })

  it("HubSpot throttling and outages are absorbed inside the invocation: PostHog retries no invocation after a write, and none is lost", async () => {
    const messages = generateEvents({ profile: 'project-management', users: 4, days: 5, end: new Date(NOW).toISOString(), seed: 9 }) as Record<string, any>[]
    emulator.setFaults({ seed: 2, rate429: 0.1, rate5xx: 0.08 })
    const failures: string[] = []
    let retried = 0
    for (const globals of asPostHog(messages)) {
      for (const invocation of await executeEvent(destination, posthog, inputs(), globals)) {
        if (invocation.error) failures.push(invocation.error)
        retried += invocation.tries - 1
      }
    }
    expect(failures).toEqual([])
    // pqlkit makes its calls itself, so PostHog's retry never has to run.
    expect(retried).toBe(0)
    expect(emulator.stats().status['429'] ?? 0).toBeGreaterThan(0)
  })
})
