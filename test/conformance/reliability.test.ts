import nock from 'nock'
import { startEmulator } from '../hubspot-emulator'
import type { FaultOptions } from '../hubspot-emulator/faults'
import { HOSTS } from './hosts'
import { Message, SCENARIOS } from './scenarios'
import { Snapshot, snapshot } from './snapshot'

/**
 * Nothing lost, nothing doubled: every host, against a HubSpot that throttles, fails, drops
 * connections and half-fails batches (seeded), with each host's own retries, ends with the
 * state of a clean run and sends no tier-entry hand-off twice. So do duplicate deliveries,
 * shuffled order and other batch boundaries.
 */
const BATCH = 25
const FAULTS: FaultOptions = { seed: 101, rate429: 0.12, rate5xx: 0.1, dropRate: 0.03, latencyMs: 1, partialRate: 0.1 }
/** Injected 429s say no calls remain: a short window keeps the waits short. */
const RATE_LIMIT = { max: 10_000, intervalMs: 200 }
const slackPosts: string[] = []

beforeAll(() => {
  jest.useFakeTimers({
    doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout']
  })
  nock.disableNetConnect()
  nock.enableNetConnect('127.0.0.1')
  nock('https://hooks.slack.com')
    .persist()
    .post(/.*/)
    .reply(200, (_uri, body) => {
      slackPosts.push(JSON.stringify(body))
      return 'ok'
    })
})

afterAll(() => {
  nock.cleanAll()
  nock.enableNetConnect()
  jest.useRealTimers()
})

/** A seeded shuffle (mulberry32), so a failure replays. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}

/** Every batch of `size` delivered twice in a row. */
function twice(messages: Message[], size: number): Message[] {
  const result: Message[] = []
  for (let start = 0; start < messages.length; start += size) {
    const batch = messages.slice(start, start + size)
    result.push(...batch, ...batch)
  }
  return result
}

type Run = { stored: Snapshot; entered: number; redelivered: number; injected: number }

const scenarios = SCENARIOS.filter((scenario) => /project-management|teammates|several users|userId only/.test(scenario.name))

describe.each(scenarios)('$name', (scenario) => {
  const now = Date.parse(scenario.now)

  async function run(hostIndex: number, messages: Message[], options: { faults?: FaultOptions; batchSize?: number } = {}): Promise<Run> {
    jest.setSystemTime(now)
    const emulator = await startEmulator({ rateLimit: RATE_LIMIT, faults: options.faults })
    try {
      slackPosts.length = 0
      const report = await HOSTS[hostIndex].deliver(messages, { emulator, model: scenario.model, now, batchSize: options.batchSize ?? BATCH })
      expect(report.invalid).toEqual([])
      const status = emulator.stats().status
      const injected = (status['429'] ?? 0) + (status['502'] ?? 0) + (status['503'] ?? 0) + (status['504'] ?? 0) + (status['207'] ?? 0) + (status.dropped ?? 0)
      emulator.setFaults(undefined)
      return { stored: snapshot(emulator), entered: slackPosts.filter((post) => / enters /.test(post)).length, redelivered: report.redelivered, injected }
    } finally {
      await emulator.stop()
    }
  }

  describe.each(HOSTS.map((host, index) => ({ host: host.name, index })))('through $host', ({ index }) => {
    let clean: Run
    beforeAll(async () => {
      clean = await run(index, scenario.messages)
    }, 60_000)

    it('429 storms, 5xx, dropped connections and 207 partials end in the clean state, no hand-off sent twice', async () => {
      const faulty = await run(index, scenario.messages, { faults: FAULTS })
      expect(faulty.injected).toBeGreaterThan(0)
      expect(faulty.stored).toEqual(clean.stored)
      expect(faulty.entered).toBe(clean.entered)
    }, 120_000)

    it('every batch delivered twice changes nothing', async () => {
      const doubled = await run(index, twice(scenario.messages, BATCH))
      expect(doubled.stored).toEqual(clean.stored)
      expect(doubled.entered).toBe(clean.entered)
    }, 60_000)

    it('shuffled order and other batch boundaries give the same state', async () => {
      const reordered = await run(index, shuffled(scenario.messages, 7), { batchSize: 11 })
      expect(reordered.stored).toEqual(clean.stored)
    }, 60_000)
  })
})
