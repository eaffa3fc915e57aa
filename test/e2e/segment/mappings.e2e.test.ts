import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestIntegration, defaultValues, JSONObject, SegmentEvent } from '@segment/actions-core'
import destination from '@pqlkit/segment-destination'
import { loadModel, parseMappings, segmentMessageToProductEvent, segmentSubscription, simulate } from '@pqlkit/core'
import { parse } from 'yaml'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'
import { freezeDate, restoreFakes } from '../../harness/fakes'

/**
 * Issue #22's Done-when: a model of one score over three mapped properties (a windowed count,
 * a sum, a latest value), the mappings saved as Map Event to Property subscriptions the way
 * RevOps saves them in Segment's UI (a trigger from the builder, the fields filled in, the rest
 * left at their defaults) beside the destination's presets, run in actions-core's runtime
 * against the local HubSpot, and HubSpot ends up holding what `simulate` computes with the
 * same mappings (read from the same subscriptions, as `--mappings` reads Segment's export).
 */
const MODEL_TEXT = readFileSync(join(REPO_ROOT, 'examples/mappings/model.yaml'), 'utf8')
const NOW = Date.parse('2026-11-01T00:00:00.000Z')
const MAX_ROUNDS = 5

const mapEventToProperty = destination.actions.mapEventToProperty
const saved = (event: string, fields: JSONObject) => ({
  partnerAction: 'mapEventToProperty',
  subscribe: `type = "track" and event = "${event}"`,
  mapping: { ...defaultValues(mapEventToProperty.fields), ...fields } as JSONObject
})
const SUBSCRIPTIONS = [
  ...destination.presets!.flatMap((preset) =>
    preset.type === 'automatic' ? [{ partnerAction: preset.partnerAction, subscribe: preset.subscribe, mapping: preset.mapping ?? {} }] : []
  ),
  saved('Report Created', { property: 'reports_created_l30d', aggregation: 'count', window: '30d' }),
  saved('Order Completed', { property: 'revenue_total', aggregation: 'sum', value: { '@path': '$.properties.amount' } }),
  saved('Plan Changed', { property: 'plan', aggregation: 'latest', value: { '@path': '$.properties.plan' } })
]

/** Four users over September and October: reports in and out of the 30-day window, orders, plan changes, other events. */
function messages(): SegmentEvent[] {
  const result: SegmentEvent[] = []
  let id = 0
  const track = (user: number, day: string, event: string, properties: Record<string, unknown> = {}) =>
    result.push({
      type: 'track',
      event,
      messageId: `m-${++id}`,
      timestamp: `2026-${day}T${String(8 + (id % 10)).padStart(2, '0')}:00:00.000Z`,
      userId: `u-${user}`,
      properties,
      context: { traits: { email: `user${user}@acme.io` } }
    } as SegmentEvent)
  for (let user = 1; user <= 4; user++) {
    for (let n = 0; n < user * 2; n++) track(user, n % 2 === 0 ? `09-${String(10 + n).padStart(2, '0')}` : `10-${String(10 + n).padStart(2, '0')}`, 'Report Created')
    track(user, '10-05', 'Order Completed', { amount: 40 * user })
    track(user, '10-06', 'Order Completed', { amount: String(15 * user) })
    track(user, '10-07', 'Page Viewed', { path: '/pricing' })
    if (user % 2 === 0) {
      track(user, '10-08', 'Plan Changed', { plan: 'trial' })
      track(user, '10-20', 'Plan Changed', { plan: user === 4 ? 'paying' : 'starter' })
    }
  }
  return result
}

let emulator: Emulator

beforeAll(async () => {
  freezeDate(NOW)
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 } })
  process.env.HUBSPOT_BASE_URL = emulator.url
})

afterAll(async () => {
  delete process.env.HUBSPOT_BASE_URL
  restoreFakes()
  await emulator.stop()
})

describe('RevOps maps events to properties in Segment', () => {
  it('three mapped properties and a model score end in HubSpot as simulate computes them with the same mappings', async () => {
    const testDestination = createTestIntegration(destination)
    const settings = { accessToken: emulator.accessToken, model: JSON.stringify(parse(MODEL_TEXT)) }
    // Segment delivers again what a subscription answered retryable (a mapping whose first
    // event this process had not seen yet); a message goes to every subscription it matches.
    let pending = messages()
    const invalid: string[] = []
    let rounds = 0
    while (pending.length > 0 && rounds < MAX_ROUNDS) {
      rounds++
      const results = (await testDestination.onBatch(pending, { ...settings, subscriptions: SUBSCRIPTIONS })) as {
        multistatus?: { status: number; errormessage?: string }[]
      }[]
      const retry: SegmentEvent[] = []
      pending.forEach((message, index) => {
        // One result per subscription: a multistatus, or none when no message matched it.
        const entries = results
          .map((result) => result.multistatus?.[index])
          .filter((entry) => entry !== undefined && !/does not match the subscription/.test(entry.errormessage ?? '')) as { status: number; errormessage?: string }[]
        if (entries.some((entry) => entry.status === 429 || entry.status >= 500)) retry.push(message)
        for (const entry of entries) if (entry.status >= 400 && entry.status < 500 && entry.status !== 429) invalid.push(`${message.messageId}: ${entry.errormessage}`)
      })
      pending = retry
    }
    expect(invalid).toEqual([])
    expect(pending).toEqual([])

    const model = loadModel(MODEL_TEXT, 'model', parseMappings(SUBSCRIPTIONS, 'subscriptions', segmentSubscription))
    const expected = simulate(model, messages().map((message) => segmentMessageToProductEvent(message)), NOW)
    const dump = emulator.dump()
    const stored = new Map(dump.contacts.map((record) => [record.properties.email, record]))
    expect(stored.size).toBe(4)
    const differences: string[] = []
    for (const subject of expected.subjects) {
      for (const [name, value] of Object.entries(subject.properties)) {
        const actual = stored.get(subject.id)?.properties[name] ?? ''
        if (!name.endsWith('_updated_at') && actual !== String(value)) differences.push(`${subject.id} ${name}: ${actual} ≠ ${value}`)
      }
    }
    expect(differences).toEqual([])
    // The scenario means something: the window cut the September reports, the sum took a numeric string, the latest plan won.
    expect(Object.fromEntries(expected.subjects.map((subject) => [subject.id, subject.properties]))).toMatchObject({
      'user1@acme.io': { reports_created_l30d: 1, revenue_total: 55, pql_score: 10 },
      'user4@acme.io': { reports_created_l30d: 4, revenue_total: 220, plan: 'paying', pql_score: 100, pql_score_tier: 'Hot' }
    })
    // Each mapped property was created in the portal at its mapping's first event, typed by its aggregation.
    const created = Object.fromEntries(
      dump.properties.filter((property) => ['reports_created_l30d', 'revenue_total', 'plan'].includes(property.name)).map((property) => [property.name, property.type])
    )
    expect(created).toEqual({ reports_created_l30d: 'number', revenue_total: 'number', plan: 'string' })
  }, 60_000)
})
