import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestIntegration, SegmentEvent } from '@segment/actions-core'
import destination from '@pqlkit/segment-destination'
import { loadModel, segmentMessageToProductEvent, simulate } from '@pqlkit/core'
import { parse } from 'yaml'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'
import { fakeSlack, freezeDate, restoreFakes } from '../../harness/fakes'

/**
 * SPEC §6 end to end: the sample stream's Segment messages go through actions-core's own
 * runtime (`onBatch` with the destination's presets as subscriptions, default mappings) into
 * the local HubSpot over HTTP, and HubSpot ends up holding what `pqlkit simulate` computes.
 */
const MODEL_TEXT = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const MESSAGES = readFileSync(join(REPO_ROOT, 'examples/sample-events.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as SegmentEvent)
/** The destination evaluates at the wall clock; the sample covers October 2026. */
const NOW = Date.parse('2026-11-01T00:00:00.000Z')
const BATCH = 1000

let emulator: Emulator
const slackPosts: string[] = []

beforeAll(async () => {
  // Only Date is frozen: sockets and timers run for real.
  freezeDate(NOW)
  // With the clock frozen a rolling window never rolls: a limit larger than the run needs.
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 } })
  process.env.HUBSPOT_BASE_URL = emulator.url
  // The model's hand-offs post to Slack: Slack is faked, HubSpot is the emulator over HTTP.
  fakeSlack(slackPosts)
})

afterAll(async () => {
  delete process.env.HUBSPOT_BASE_URL
  restoreFakes()
  await emulator.stop()
})

type Stored = {
  id: string
  properties: Record<string, string | null>
  associations?: { toObjectType: string; toObjectId: string }[]
}

describe('the Segment destination in actions-core’s runtime against the HubSpot emulator', () => {
  it('routes every message by its preset and stores exactly what pqlkit simulate computes', async () => {
    const testDestination = createTestIntegration(destination)
    const subscriptions = destination.presets!.flatMap((preset) =>
      preset.type === 'automatic'
        ? [{ partnerAction: preset.partnerAction, subscribe: preset.subscribe, mapping: preset.mapping ?? {} }]
        : []
    )
    expect(subscriptions.map((subscription) => subscription.partnerAction)).toEqual(['trackEvent', 'identifyContact', 'groupCompany'])
    // The setting holds the model as RevOps pastes it: the YAML file's JSON form.
    const settings = { accessToken: emulator.accessToken, model: JSON.stringify(parse(MODEL_TEXT)) }
    // One result per subscription; an event not matching one is a 400 "does not match" there.
    const outcomes: string[] = []
    for (let start = 0; start < MESSAGES.length; start += BATCH) {
      const batch = MESSAGES.slice(start, start + BATCH)
      const results = (await testDestination.onBatch(batch, { ...settings, subscriptions })) as {
        multistatus: { status: number; errormessage?: string }[]
      }[]
      batch.forEach((message, index) => {
        const handled = results
          .map((result, s) => ({ action: subscriptions[s].partnerAction, entry: result.multistatus[index] }))
          .filter(({ entry }) => !/does not match the subscription/.test(entry.errormessage ?? ''))
        outcomes.push(handled.map(({ action, entry }) => `${message.type} → ${action} ${entry.status}`).join(', '))
      })
    }
    const counts: Record<string, number> = {}
    for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1
    const byType = (type: string) => MESSAGES.filter((message) => message.type === type).length
    expect(counts).toEqual({
      'track → trackEvent 200': byType('track'),
      'identify → identifyContact 200': byType('identify'),
      'group → groupCompany 200': byType('group')
    })

    const model = loadModel(MODEL_TEXT)
    const expected = simulate(model, MESSAGES.map((message) => segmentMessageToProductEvent(message)), NOW)
    const dump = emulator.dump() as { contacts: Stored[]; companies: Stored[] }
    const stored = new Map<string, Stored>([
      ...dump.contacts.map((record): [string, Stored] => [`contact ${record.properties.email}`, record]),
      ...dump.companies.map((record): [string, Stored] => [`company ${record.properties.pqlkit_company_key}`, record])
    ])
    expect(stored.size).toBe(expected.subjects.length)
    const differences: string[] = []
    for (const subject of expected.subjects) {
      const record = stored.get(`${subject.subject} ${subject.id}`)
      for (const [name, value] of Object.entries(subject.properties)) {
        // HubSpot keeps no empty values: an empty reasons text is an absent property.
        const actual = record?.properties[name] ?? ''
        if (!name.endsWith('_updated_at') && actual !== String(value)) differences.push(`${subject.subject} ${subject.id} ${name}: ${actual} ≠ ${value}`)
      }
    }
    expect(differences).toEqual([])
    expect(expected.subjects.filter((subject) => subject.subject === 'contact')).toHaveLength(300)
    expect(emulator.stats().byEndpoint['POST /crm/v4/associations/contacts/companies/batch/associate/default']).toBeGreaterThan(0)

    // Hand-offs went out through the destination: one task per contact entering Sales-Ready,
    // never two for the same contact, each with its Slack post.
    const tasks = (emulator.dump() as { tasks: Stored[] }).tasks
    expect(tasks.length).toBeGreaterThan(0)
    expect(tasks.every((task) => /^PQL handoff: /.test(task.properties.hs_task_subject ?? ''))).toBe(true)
    const subjects = tasks.map((task) => task.properties.hs_task_subject)
    expect(new Set(subjects).size).toBe(subjects.length)
    expect(slackPosts.filter((post) => post.includes('enters Sales-Ready'))).toHaveLength(tasks.length)
  }, 60_000)
})
