import { createPipeline, loadModel, officialHubSpotApi, ProductEvent, segmentMessageToProductEvent, simulate, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'

/**
 * Issue "Identity": people whose userId or email changes end the same in every batching and
 * in `simulate` (SPEC §3.1, README "Identity"), and no valid event is refused for who it is.
 */
const MODEL = '{"version":1,"name":"p","signals":{"n":{"count":"A"}},"scores":[{"property":"s","rules":[{"per":"n","points":1}]}]}'
const NOW = Date.parse('2026-10-02T00:00:00Z')

const at = (minute: number) => `2026-10-01T10:${String(minute).padStart(2, '0')}:00.000Z`
const identify = (id: string, minute: number, userId: string, email: string) =>
  segmentMessageToProductEvent({ type: 'identify', messageId: id, timestamp: at(minute), userId, traits: { email } })
const track = (id: string, minute: number, userId: string, email?: string) =>
  segmentMessageToProductEvent({ type: 'track', messageId: id, timestamp: at(minute), userId, event: 'A', ...(email ? { context: { traits: { email } } } : {}) })

const EXAMPLES: { name: string; events: ProductEvent[]; expected: Record<string, { n: string; pqlkit_user_id?: string }> }[] = [
  {
    name: 'an email seen with a second userId',
    events: [identify('e1', 0, 'u1', 'a@x.example'), identify('e2', 1, 'u2', 'a@x.example'), track('e3', 2, 'u1'), track('e4', 3, 'u2')],
    expected: { 'a@x.example': { n: '1', pqlkit_user_id: 'u1' }, 'user:u2': { n: '1', pqlkit_user_id: 'u2' } }
  },
  {
    name: 'a userId whose email changes',
    events: [identify('e1', 0, 'c1', 'c@x.example'), identify('e2', 1, 'c1', 'd@x.example'), track('e3', 2, 'c1'), track('e4', 3, 'c1', 'd@x.example')],
    expected: { 'c@x.example': { n: '1', pqlkit_user_id: 'c1' }, 'd@x.example': { n: '1' } }
  }
]

let emulator: Emulator
beforeAll(async () => {
  emulator = await startEmulator()
})
afterAll(() => emulator.stop())

/** Contacts as HubSpot holds them: by email (or `user:` and the userId), with the count and the userId. */
function contacts(): Record<string, { n?: string; pqlkit_user_id?: string }> {
  const result: Record<string, { n?: string; pqlkit_user_id?: string }> = {}
  for (const record of emulator.dump().contacts as { properties: Record<string, string | null> }[]) {
    const { email, pqlkit_user_id, n } = record.properties
    result[email ?? `user:${pqlkit_user_id}`] = { n: n ?? undefined, ...(pqlkit_user_id ? { pqlkit_user_id } : {}) }
  }
  return result
}

describe.each(EXAMPLES)('$name', ({ events, expected }) => {
  it('simulate follows the identity rules', () => {
    const result = simulate(loadModel(MODEL), events, NOW)
    const counts = Object.fromEntries(result.subjects.map((subject) => [subject.id.includes('@') ? subject.id : `user:${subject.id}`, String(subject.properties.n)]))
    expect(counts).toEqual(Object.fromEntries(Object.entries(expected).map(([key, { n }]) => [key, n])))
  })

  it.each([1, 7, 1000])('sync in batches of %i stores the same, refusing no event', async (size) => {
    emulator.reset()
    const pipeline = createPipeline({
      api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()),
      model: loadModel(MODEL)
    })
    for (let start = 0; start < events.length; start += size) {
      const report = await pipeline.process(events.slice(start, start + size), NOW)
      expect(report.results).toEqual(report.results.map(() => ({ status: 'ok' })))
    }
    expect(contacts()).toEqual(expected)
    expect(differencesFromSimulate(snapshot(emulator), simulate(loadModel(MODEL), events, NOW))).toEqual([])
  })
})

describe('a unique value taken between the read and the write (another worker, HubSpot has no conditional write)', () => {
  it('the 409 is resolved by reading again: the userId stays where HubSpot has it, and no event is refused', async () => {
    emulator.reset()
    const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
    let raced = false
    const racing = Object.assign(Object.create(api), {
      batchUpsert: async (objectType: 'contacts' | 'companies', inputs: Parameters<typeof api.batchUpsert>[1]) => {
        if (objectType === 'contacts' && !raced) {
          raced = true
          await api.batchUpsert('contacts', [{ idProperty: 'email', id: 'other@x.example', properties: { email: 'other@x.example', pqlkit_user_id: 'u1' } }])
        }
        return api.batchUpsert(objectType, inputs)
      }
    }) as typeof api
    const report = await createPipeline({ api: racing, model: loadModel(MODEL) }).process([identify('r1', 0, 'u1', 'a@x.example'), track('r2', 1, 'u1', 'a@x.example')], NOW)
    expect(raced).toBe(true)
    expect(report.results).toEqual([{ status: 'ok' }, { status: 'ok' }])
    expect(contacts()).toEqual({ 'a@x.example': { n: '1' }, 'other@x.example': { pqlkit_user_id: 'u1' } })
    expect(report.problems).toContain('userId u1 is on other@x.example, not on a@x.example: pqlkit never merges contacts (merge them in HubSpot)')
  })
})
