import fc from 'fast-check'
import { createPipeline, loadModel, officialHubSpotApi, segmentMessageToProductEvent, simulate, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { fakeSlack, freezeDate, restoreFakes } from '../../harness/fakes'
import { HOSTS } from '../conformance/hosts'
import type { Message } from '../conformance/scenarios'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'

/**
 * Random identity histories (userIds and emails appearing, changing and repeating, seeded):
 * `simulate`, `pqlkit sync` in batches of 1, 7 and 1,000, and every host's conformance driver
 * store the same contacts, and no event is refused for who it is.
 */
const MODEL = '{"version":1,"name":"identity","signals":{"n":{"count":"A"},"plan":{"trait":"plan"}},"scores":[{"property":"s","rules":[{"per":"n","points":1}]}]}'
const NOW = Date.parse('2026-10-02T00:00:00Z')
const START = Date.parse('2026-10-01T10:00:00Z')

const step = fc.record({
  kind: fc.constantFrom('identify', 'track', 'track'),
  userId: fc.option(fc.constantFrom('u1', 'u2', 'u3'), { nil: undefined }),
  email: fc.option(fc.constantFrom('a@x.example', 'b@x.example', 'c@x.example'), { nil: undefined })
})
const history = fc.array(step, { minLength: 2, maxLength: 12 }).map((steps) =>
  steps
    .filter((s) => s.userId !== undefined || s.email !== undefined)
    .map((s, i): Message => {
      const base = { messageId: `h${i}`, timestamp: new Date(START + i * 60_000).toISOString(), ...(s.userId ? { userId: s.userId } : {}) }
      return s.kind === 'identify'
        ? ({ ...base, type: 'identify', traits: { plan: `p${i}`, ...(s.email ? { email: s.email } : {}) } } as Message)
        : ({ ...base, type: 'track', event: 'A', properties: {}, ...(s.email ? { context: { traits: { email: s.email } } } : {}) } as Message)
    })
)

const slackPosts: string[] = []
beforeAll(() => {
  freezeDate(NOW)
  fakeSlack(slackPosts)
})
afterAll(() => restoreFakes())

/** A fresh HubSpot for each run (a host keeps its bootstrap per portal and process). */
async function withEmulator(run: (emulator: Emulator) => Promise<void>): Promise<void> {
  const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  try {
    await run(emulator)
  } finally {
    await emulator.stop()
  }
}

/** The contacts HubSpot holds, as simulate names them, and how they differ from simulate. */
function compare(emulator: Emulator, messages: Message[]): { contacts: string[]; differences: string[] } {
  const expected = simulate(loadModel(MODEL), messages.map((message) => segmentMessageToProductEvent(message)), NOW)
  const stored = snapshot(emulator)
  return {
    contacts: Object.keys(stored.contacts).sort(),
    differences: differencesFromSimulate(stored, expected).concat(
      expected.subjects.length === Object.keys(stored.contacts).length ? [] : [`${Object.keys(stored.contacts).length} contacts, simulate has ${expected.subjects.length}`]
    )
  }
}

it('every batching and every host end as simulate does', async () => {
  await fc.assert(
    fc.asyncProperty(history, async (messages) => {
      for (const size of [1, 7, 1000]) {
        await withEmulator(async (emulator) => {
          const pipeline = createPipeline({
            api: officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport()),
            model: loadModel(MODEL)
          })
          for (let start = 0; start < messages.length; start += size) {
            const events = messages.slice(start, start + size).map((message) => segmentMessageToProductEvent(message))
            const report = await pipeline.process(events, NOW)
            expect(report.results.filter((result) => result.status !== 'ok')).toEqual([])
          }
          expect({ batch: size, ...compare(emulator, messages) }).toMatchObject({ batch: size, differences: [] })
        })
      }
      for (const host of HOSTS) {
        await withEmulator(async (emulator) => {
          const report = await host.deliver(messages, { emulator, model: MODEL, now: NOW, batchSize: 3 })
          expect({ host: host.name, invalid: report.invalid }).toEqual({ host: host.name, invalid: [] })
          expect({ host: host.name, ...compare(emulator, messages) }).toMatchObject({ host: host.name, differences: [] })
        })
      }
    }),
    { seed: 20261201, numRuns: 20 }
  )
}, 600_000)
