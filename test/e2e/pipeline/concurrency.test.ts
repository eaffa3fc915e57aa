import { createPipeline, HubSpotCalls, loadModel, officialHubSpotApi, Pipeline, ProductEvent, simulate, SyncReport, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { freezeDate } from '../../harness/fakes'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'

/**
 * The concurrency-safe state store (docs/architecture.md, "State"), in one process but as
 * separate workers: each pipeline has its own client and locks, and a choreography holds each
 * worker's first write until every worker has read, then lets them write one after another.
 * So every worker decides from the same stale state and each write overwrites the one before:
 * the lost update, made deterministic. HubSpot answers with latency, as the real one does.
 */

const NOW = Date.parse('2026-03-20T12:00:00.000Z')
const HOUR = 3_600_000
const iso = (at: number) => new Date(at).toISOString()

const MODEL = loadModel(`
version: 1
name: concurrency
signals:
  projects: { count: "Project Created" }
  teammates: { count: "Teammate Invited" }
  last_activity: { last_seen: "*" }
  plan: { trait: plan }
scores:
  - property: pql_score
    rules:
      - { label: Projects, per: projects, points: 10, cap: 40 }
      - { label: Team, when: teammates >= 2, points: 50 }
      - { label: Paying, when: plan == "paying", points: 20 }
    tiers: { Cold: 0, Warm: 30, Sales-Ready: 80 }
company:
  signals:
    users: { distinct_users: "*" }
    company_projects: { count: "Project Created" }
  scores:
    - property: account_score
      rules: [{ label: Users, per: users, points: 25, cap: 100 }]
handoff:
  - on: { enters: Sales-Ready }
    slack: { webhook: "https://hooks.slack.com/services/T1/B1/concurrency-secret" }
    task: { title: "PQL handoff: {{email}} ({{score}})", due: 0d }
`)

let sequence = 0
function track(who: { email?: string; userId?: string }, event: string, at: number, groupId?: string): ProductEvent {
  return { kind: 'track', messageId: `msg-${++sequence}`, timestamp: iso(at), event, ...who, ...(groupId ? { company: { groupId } } : {}) }
}
function identify(who: { email?: string; userId?: string }, traits: Record<string, unknown>, at: number): ProductEvent {
  return { kind: 'identify', messageId: `msg-${++sequence}`, timestamp: iso(at), ...who, traits }
}

let emulator: Emulator
const slackPosts: string[] = []

function hubspot(): HubSpotCalls {
  return officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(undefined, { attempts: 6, baseDelayMs: 5, maxDelayMs: 50 }))
}

function worker(api: HubSpotCalls = hubspot(), options: { handBackContacts?: boolean } = {}): Pipeline {
  return createPipeline({
    api,
    model: MODEL,
    handBackContacts: options.handBackContacts,
    handoffs: {
      post: async (_url, body) => {
        slackPosts.push(body)
        return { status: 200 }
      },
      portalId: 123456,
      now: () => NOW
    }
  })
}

const WRITES = new Set(['batchUpsert', 'batchUpdate', 'associate', 'createTask'])

/** A point every one of `count` workers must reach before any goes on. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return () => {
    if (++arrived === count) open()
    return opened
  }
}

/** `api` whose first write waits for `gate`, and whose first read of hand-off claims for `claims`. */
function held(api: HubSpotCalls, gate: () => Promise<void>, claims?: () => Promise<void>): HubSpotCalls {
  let passed: Promise<void> | undefined
  let claimed: Promise<void> | undefined
  return new Proxy(api, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function') return value
      if (name === 'batchRead' && claims) {
        return async (...args: unknown[]) => {
          if ((args[4] as string[] | undefined)?.includes('pqlkit_handoff_claim')) await (claimed ??= claims())
          return value.apply(target, args)
        }
      }
      if (!WRITES.has(String(name))) return value.bind(target)
      return async (...args: unknown[]) => {
        await (passed ??= gate())
        return value.apply(target, args)
      }
    }
  })
}

/**
 * Runs one batch per worker at once: every worker reads before any writes, then they write
 * in order, each once the one before it has finished its batch.
 */
async function concurrently(batches: ProductEvent[][], options: { handBackContacts?: boolean } = {}): Promise<SyncReport[]> {
  let read = 0
  let allRead!: () => void
  const everyoneRead = new Promise<void>((resolve) => (allRead = resolve))
  const finished: Promise<unknown>[] = []
  const reports = batches.map((batch, index) => {
    const gate = async () => {
      if (++read === batches.length) allRead()
      await everyoneRead
      if (index > 0) await finished[index - 1]
    }
    const run = worker(held(hubspot(), gate), options).process(batch, NOW)
    finished.push(run.catch(() => undefined))
    return run
  })
  return Promise.all(reports)
}

function stored(email: string): Record<string, string | null> {
  return emulator.dump().contacts.find((record) => record.properties.email === email)!.properties
}

async function sweep(): Promise<void> {
  await worker().sweep(NOW, { sleep: async () => undefined })
}

beforeAll(async () => {
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 }, faults: { seed: 16, latencyMs: 10 } })
})
afterAll(() => emulator.stop())
beforeEach(async () => {
  emulator.reset()
  slackPosts.length = 0
  await worker().bootstrap()
})

describe('two workers writing the same subjects at once (the contribution log)', () => {
  it('a write the other worker overwrote is repaired by the next read: nothing lost, nothing counted twice', async () => {
    const base = NOW - 48 * HOUR
    const first = [identify({ email: 'ada@acme.io', userId: 'u-ada' }, { plan: 'free' }, base), track({ email: 'ada@acme.io' }, 'Project Created', base + HOUR, 'acme')]
    await worker().process(first, NOW)
    const a = [track({ email: 'ada@acme.io' }, 'Project Created', base + 2 * HOUR, 'acme'), track({ email: 'bob@acme.io' }, 'Project Created', base + 2 * HOUR, 'acme')]
    const b = [track({ email: 'ada@acme.io' }, 'Project Created', base + 3 * HOUR, 'acme'), identify({ email: 'ada@acme.io' }, { plan: 'paying' }, base + 3 * HOUR)]
    const reports = await concurrently([a, b])
    expect(reports.flatMap((report) => report.results).every((result) => result.status === 'ok')).toBe(true)
    // The lost update happened: the stored state is B's, built on the state both read.
    expect(stored('ada@acme.io').projects).toBe('2')

    const later = [track({ email: 'ada@acme.io' }, 'Teammate Invited', base + 4 * HOUR)]
    await worker().process(later, NOW)
    expect(stored('ada@acme.io').projects).toBe('3')
    const expected = simulate(MODEL, [...first, ...a, ...b, ...later], NOW)
    expect(differencesFromSimulate(snapshot(emulator), expected)).toEqual([])
  })

  it('four workers on overlapping subjects end equal to simulate after one sweep', async () => {
    const base = NOW - 72 * HOUR
    const people = ['ada@acme.io', 'bob@acme.io', 'cy@globex.io', 'di@globex.io']
    const seed = people.map((email, i) => identify({ email, userId: `u-${i}` }, { plan: 'free' }, base))
    await worker().process(seed, NOW)
    const batches = [0, 1, 2, 3].map((w) =>
      people.flatMap((email, i) => [
        track({ email }, 'Project Created', base + (w + 1) * HOUR + i, email.endsWith('acme.io') ? 'acme' : 'globex'),
        ...(w === i ? [identify({ email }, { plan: 'paying' }, base + (w + 1) * HOUR)] : [])
      ])
    )
    const reports = await concurrently(batches)
    expect(reports.flatMap((report) => report.results).every((result) => result.status === 'ok')).toBe(true)
    await sweep()
    const expected = simulate(MODEL, [...seed, ...batches.flat()], NOW)
    expect(differencesFromSimulate(snapshot(emulator), expected)).toEqual([])
  })
})

describe('hand-offs under concurrency', () => {
  it('a crossing two workers decide from the same stale state is sent once (Slack post and task)', async () => {
    const base = NOW - 24 * HOUR
    const ada = { email: 'ada@acme.io', userId: 'u-ada' }
    const first = [identify(ada, { plan: 'paying' }, base), track(ada, 'Project Created', base + 1), track(ada, 'Project Created', base + 2)]
    await worker().process(first, NOW)
    const a = [track(ada, 'Teammate Invited', base + HOUR), track(ada, 'Teammate Invited', base + HOUR + 1)]
    const b = [track(ada, 'Teammate Invited', base + 2 * HOUR), track(ada, 'Teammate Invited', base + 2 * HOUR + 1)]
    const reports = await concurrently([a, b])
    expect(reports.map((report) => report.handoffs.length)).toEqual([1, 0])
    await sweep()
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
    expect(differencesFromSimulate(snapshot(emulator), simulate(MODEL, [...first, ...a, ...b], NOW))).toEqual([])
  })

  it('a claim stamped in the same millisecond as the winner\'s, written after it sent, loses to it whatever its token', async () => {
    // HubSpot stamps versions to the millisecond: here every write gets one timestamp, and each
    // token drawn sorts before the one drawn before it, so the later claim has the smaller token.
    freezeDate(NOW)
    let next = 0.9
    const random = jest.spyOn(Math, 'random').mockImplementation(() => (next -= 1e-6))
    try {
      const base = NOW - 24 * HOUR
      const ada = { email: 'ada@acme.io', userId: 'u-ada' }
      await worker().process([identify(ada, { plan: 'paying' }, base), track(ada, 'Project Created', base + 1), track(ada, 'Project Created', base + 2)], NOW)
      const reports = await concurrently([
        [track(ada, 'Teammate Invited', base + HOUR), track(ada, 'Teammate Invited', base + HOUR + 1)],
        [track(ada, 'Teammate Invited', base + 2 * HOUR), track(ada, 'Teammate Invited', base + 2 * HOUR + 1)]
      ])
      expect(reports.map((report) => report.handoffs.length)).toEqual([1, 0])
      expect(slackPosts).toHaveLength(1)
      expect(emulator.dump().tasks).toHaveLength(1)
    } finally {
      random.mockRestore()
      jest.useRealTimers()
    }
  })

  it('two workers that both claim a crossing before either reads the claims back agree on one sender', async () => {
    const base = NOW - 24 * HOUR
    const ada = { email: 'ada@acme.io', userId: 'u-ada' }
    await worker().process([identify(ada, { plan: 'paying' }, base), track(ada, 'Project Created', base + 1), track(ada, 'Project Created', base + 2)], NOW)
    const read = barrier(2)
    const claimsWritten = barrier(2)
    const reports = await Promise.all(
      [HOUR, 2 * HOUR].map((offset) =>
        worker(held(hubspot(), read, claimsWritten)).process([track(ada, 'Teammate Invited', base + offset), track(ada, 'Teammate Invited', base + offset + 1)], NOW)
      )
    )
    expect(reports.map((report) => report.handoffs.length).sort()).toEqual([0, 1])
    await sweep()
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
  })

  it('a crossing one worker sent, its write then overwritten, is not sent again by the repair', async () => {
    const base = NOW - 24 * HOUR
    const ada = { email: 'ada@acme.io', userId: 'u-ada' }
    const first = [identify(ada, { plan: 'paying' }, base), track(ada, 'Project Created', base + 1), track(ada, 'Project Created', base + 2)]
    await worker().process(first, NOW)
    const a = [track(ada, 'Teammate Invited', base + HOUR), track(ada, 'Teammate Invited', base + HOUR + 1)]
    const b = [track(ada, 'Project Created', base + 2 * HOUR)]
    const reports = await concurrently([a, b])
    expect(reports.map((report) => report.handoffs.length)).toEqual([1, 0])
    // B's write overwrote A's: the score is B's, from the state both read.
    expect(stored('ada@acme.io').pql_score).toBe('50')
    await sweep()
    expect(stored('ada@acme.io')).toMatchObject({ pql_score: '100', pql_score_tier: 'Sales-Ready' })
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
  })

  it('a crossing only the two writes together make is found at the repair and sent once', async () => {
    const base = NOW - 24 * HOUR
    const ada = { email: 'ada@acme.io', userId: 'u-ada' }
    const first = [identify(ada, { plan: 'paying' }, base), track(ada, 'Project Created', base + 1), track(ada, 'Project Created', base + 2)]
    await worker().process(first, NOW)
    const a = [track(ada, 'Teammate Invited', base + HOUR)]
    const b = [track(ada, 'Teammate Invited', base + 2 * HOUR)]
    const reports = await concurrently([a, b])
    expect(reports.map((report) => report.handoffs.length)).toEqual([0, 0])
    await sweep()
    await sweep()
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
    expect(stored('ada@acme.io').pql_score_tier).toBe('Sales-Ready')
  })
})

describe('identity under concurrency', () => {
  it('two workers creating one person, one by userId and one by email, refuse no event, leave one record and count them once in their company', async () => {
    const base = NOW - 24 * HOUR
    const a = [track({ userId: 'u-eve' }, 'Project Created', base, 'initech')]
    const b = [
      identify({ email: 'eve@initech.io', userId: 'u-eve' }, { plan: 'paying' }, base + HOUR),
      track({ email: 'eve@initech.io', userId: 'u-eve' }, 'Project Created', base + 2 * HOUR, 'initech')
    ]
    const reports = await concurrently([a, b])
    expect(reports.flatMap((report) => report.results)).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }])
    await sweep()
    const records = emulator.dump().contacts
    expect(records).toHaveLength(1)
    expect(records[0].properties).toMatchObject({ email: 'eve@initech.io', pqlkit_user_id: 'u-eve', projects: '2' })
    expect(emulator.dump().companies[0].properties).toMatchObject({ pqlkit_company_key: 'initech', users: '1', company_projects: '2' })
    expect(differencesFromSimulate(snapshot(emulator), simulate(MODEL, [...a, ...b], NOW))).toEqual([])
  })
})

describe('a host that writes the contacts itself, late (RudderStack)', () => {
  it('contact writes delivered late and out of order lose no batch: each carries its contribution', async () => {
    const base = NOW - 24 * HOUR
    const ada = { email: 'ada@acme.io', userId: 'u-ada' }
    await worker().process([identify(ada, { plan: 'free' }, base)], NOW)
    const host = worker(hubspot(), { handBackContacts: true })
    const first = await host.process([track(ada, 'Project Created', base + HOUR)], NOW)
    // The router has not delivered the first batch's identify when the second is transformed.
    const second = await host.process([track(ada, 'Project Created', base + 2 * HOUR), identify(ada, { plan: 'paying' }, base + 2 * HOUR)], NOW)
    const api = hubspot()
    for (const report of [second, first]) {
      for (const contact of report.contacts ?? []) await api.batchUpsert('contacts', [{ idProperty: 'email', id: contact.email, properties: contact.properties }])
    }
    expect(stored('ada@acme.io').projects).toBe('1')
    await sweep()
    expect(stored('ada@acme.io')).toMatchObject({ projects: '2', plan: 'paying' })
  })

  it('a new contact two batches push over before its first write is delivered gets one Slack post and one task, on one record', async () => {
    const base = NOW - 24 * HOUR
    const bo = { email: 'bo@acme.io', userId: 'u-bo' }
    const crossing = (at: number) => [
      identify(bo, { plan: 'paying' }, at),
      track(bo, 'Project Created', at + 1),
      track(bo, 'Teammate Invited', at + 2),
      track(bo, 'Teammate Invited', at + 3)
    ]
    const first = crossing(base)
    const second = crossing(base + HOUR)
    const host = worker(hubspot(), { handBackContacts: true })
    // The router has delivered neither batch's identify when the second is transformed: each batch pushes an empty state over.
    const reports = [await host.process(first, NOW), await host.process(second, NOW)]
    expect(reports.map((report) => report.handoffs.length)).toEqual([1, 0])
    expect(reports.flatMap((report) => report.problems)).toEqual([])
    const api = hubspot()
    for (const report of reports) {
      for (const contact of report.contacts ?? []) await api.batchUpsert('contacts', [{ idProperty: 'email', id: contact.email, properties: contact.properties }])
    }
    await sweep()
    expect(slackPosts).toHaveLength(1)
    const { contacts, tasks } = emulator.dump()
    expect(contacts).toHaveLength(1)
    expect(contacts[0].properties).toMatchObject({ email: 'bo@acme.io', pqlkit_user_id: 'u-bo', pql_score_tier: 'Sales-Ready' })
    expect(tasks.map((task) => task.associations?.map((association) => association.toId))).toEqual([[contacts[0].id]])
    expect(differencesFromSimulate(snapshot(emulator), simulate(MODEL, [...first, ...second], NOW))).toEqual([])
  })
})
