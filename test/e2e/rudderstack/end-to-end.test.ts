import { generateEvents, loadModel, segmentMessageToProductEvent, simulate } from '@pqlkit/core'
import Analytics from '@rudderstack/rudder-sdk-node'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { buildBundles } from '../../../destinations/rudderstack/scripts/build'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'
import { DataPlane, startDataPlane } from '../../harness/rudderstack/data-plane'
import { pasted } from '../../harness/rudderstack/transformation'
import { startTransformer, Transformer } from '../../harness/rudderstack/transformer'

const MODEL_TEXT = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const WRITE_KEY = 'pqlkit-source-write-key'

let emulator: Emulator
let transformer: Transformer
let plane: DataPlane

beforeAll(async () => {
  await buildBundles()
  transformer = startTransformer()
  emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 1_000 } })
  plane = await startDataPlane({
    writeKey: WRITE_KEY,
    transformer,
    code: pasted(parse(MODEL_TEXT), { hubspotBaseUrl: emulator.url, slackHosts: [] }),
    credentials: { HUBSPOT_ACCESS_TOKEN: emulator.accessToken },
    hubspot: { url: emulator.url, accessToken: emulator.accessToken }
  })
}, 60_000)
afterAll(async () => {
  await plane.stop()
  await transformer.stop()
  await emulator.stop()
})

type Stored = Record<string, Record<string, string | null>>
function stored(kind: 'contacts' | 'companies'): Stored {
  const result: Stored = {}
  for (const record of emulator.dump()[kind] as { properties: Record<string, string | null> }[]) {
    const key = kind === 'contacts' ? record.properties.email ?? `user:${record.properties.pqlkit_user_id}` : record.properties.pqlkit_company_key!
    result[key] = record.properties
  }
  return result
}

describe('RudderStack end to end: rudder-sdk-node → data plane → transformation in isolated-vm → HubSpot', () => {
  it('HubSpot ends up holding what pqlkit simulate computes on the same events', async () => {
    const messages = generateEvents({ profile: 'project-management', users: 80, days: 21, end: new Date(Date.now() - 60_000).toISOString(), seed: 5 })
    const sdkErrors: unknown[] = []
    const analytics = new Analytics(WRITE_KEY, {
      dataPlaneUrl: plane.url,
      flushAt: 100,
      flushInterval: 60_000,
      logLevel: 'error',
      errorHandler: (error) => sdkErrors.push(error)
    })
    for (let start = 0; start < messages.length; start += 100) {
      for (const { type, timestamp, ...message } of messages.slice(start, start + 100)) {
        // The SDK keeps a message's own originalTimestamp and messageId; the data plane corrects the time for clock skew.
        const call = { ...message, originalTimestamp: new Date(timestamp) } as never
        if (type === 'track') analytics.track(call)
        else if (type === 'identify') analytics.identify(call)
        else analytics.group(call)
      }
      await analytics.flush()
    }
    await plane.drained()
    expect(sdkErrors).toEqual([])
    expect(plane.received).toHaveLength(messages.length)
    expect(plane.results.filter((result) => result.statusCode === 400)).toEqual([])
    expect(plane.deliveryErrors).toEqual([])

    const expected = simulate(loadModel(MODEL_TEXT), plane.received.map(segmentMessageToProductEvent), Date.now())
    const contacts = stored('contacts')
    const companies = stored('companies')
    let compared = 0
    for (const subject of expected.subjects) {
      const record = subject.subject === 'contact' ? contacts[subject.id] : companies[subject.id]
      expect([subject.id, record === undefined]).toEqual([subject.id, false])
      for (const [name, value] of Object.entries(subject.properties)) {
        if (name.endsWith('_updated_at')) continue
        expect([subject.id, name, record[name] ?? '']).toEqual([subject.id, name, String(value)])
        compared++
      }
    }
    expect(Object.keys(contacts)).toHaveLength(expected.subjects.filter((subject) => subject.subject === 'contact').length)
    expect(compared).toBeGreaterThan(500)
  }, 120_000)
})
