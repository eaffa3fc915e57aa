import {
  createPipeline,
  DefaultHandoffSender,
  HubSpotApi,
  loadModel,
  officialHubSpotApi,
  Pipeline,
  ProductEvent,
  RecordResult,
  simulate,
  Transport
} from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'

const NOW = Date.parse('2026-03-20T12:00:00.000Z')
const HOUR = 3_600_000
const DAY = 24 * HOUR
const iso = (at: number) => new Date(at).toISOString()

const MODEL = loadModel(`
version: 1
name: pipeline
signals:
  projects: { count: "Project Created" }
  teammates: { count: "Teammate Invited" }
  last_activity: { last_seen: "*" }
  plan: { trait: plan }
scores:
  - property: pql_score
    activity: last_activity
    rules:
      - { label: Projects, per: projects, points: 10, cap: 40 }
      - { label: Team, when: teammates >= 2, points: 50 }
      - { label: Paying, when: plan == "paying", points: 20 }
    decay: { after: 7d, every: 7d, points: 10 }
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
    unless: lifecyclestage == "customer"
    slack: { webhook: "https://hooks.slack.com/services/T1/B1/pipeline-secret" }
    task: { title: "PQL handoff: {{email}} ({{score}})", due: 0d }
`)

let sequence = 0
function track(who: { email?: string; userId?: string }, event: string, at: number, extra: Partial<ProductEvent> = {}): ProductEvent {
  return { kind: 'track', messageId: `msg-${++sequence}`, timestamp: iso(at), event, ...who, ...extra }
}
function identify(email: string, userId: string | undefined, traits: Record<string, unknown>, at: number): ProductEvent {
  return { kind: 'identify', messageId: `msg-${++sequence}`, timestamp: iso(at), email, userId, traits }
}

let emulator: Emulator
const slackPosts: { url: string; body: string }[] = []
/** What the fake Slack answers the next posts, first to last; then 200. */
const slackAnswers: number[] = []

function pipeline(options: { handoffs?: boolean; attempts?: number } = {}): Pipeline {
  const api = officialHubSpotApi(
    { accessToken: emulator.accessToken, basePath: emulator.url },
    new Transport(undefined, { attempts: options.attempts ?? 8, baseDelayMs: 5, maxDelayMs: 50 })
  )
  const sender = options.handoffs
    ? new DefaultHandoffSender({
        post: async (url, body) => {
          const status = slackAnswers.shift() ?? 200
          if (status === 200) slackPosts.push({ url, body })
          return { status }
        },
        api,
        portalId: 123456,
        now: () => NOW
      })
    : undefined
  return createPipeline({ api, model: MODEL, handoffs: sender })
}

type Stored = Record<string, Record<string, string | null>>
function stored(kind: 'contacts' | 'companies'): Stored {
  const result: Stored = {}
  for (const record of emulator.dump()[kind] as { properties: Record<string, string | null> }[]) {
    const key = kind === 'contacts' ? record.properties.email ?? `user:${record.properties.pqlkit_user_id}` : record.properties.pqlkit_company_key!
    // A write's contribution holds that batch's events, a hand-off claim its worker's token:
    // they follow the batching and who sent, not what is stored.
    const { hs_object_id, createdate, lastmodifieddate, pqlkit_contribution, pqlkit_handoff_claim, ...rest } = record.properties
    result[key] = rest
  }
  return result
}

/** Associations as contact email → company key, independent of record ids. */
function associated(): string[] {
  type Stored = { id: string; properties: Record<string, string> }
  const dump = emulator.dump() as { contacts: Stored[]; companies: Stored[]; associations: { from: string; to: string }[] }
  const email = new Map(dump.contacts.map((c) => [c.id, c.properties.email]))
  const company = new Map(dump.companies.map((c) => [c.id, c.properties.pqlkit_company_key]))
  return dump.associations.map((a) => `${email.get(a.from)}->${company.get(a.to)}`).sort()
}

/** Re-delivers records reported retryable, as hosts do, until none are left. */
async function deliver(sync: Pipeline, events: ProductEvent[], rounds = 10): Promise<RecordResult[]> {
  let pending = events.map((event, index) => ({ event, index }))
  const results: RecordResult[] = events.map(() => ({ status: 'ok' }))
  for (let round = 0; round < rounds && pending.length > 0; round++) {
    const report = await sync.process(pending.map((p) => p.event), NOW)
    pending.forEach((p, i) => (results[p.index] = report.results[i]))
    pending = pending.filter((_, i) => report.results[i].status === 'retryable')
  }
  return results
}

beforeAll(async () => {
  // A short window keeps the waits after injected 429s (HubSpot says none remain) short.
  emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 500 } })
})
afterAll(() => emulator.stop())
beforeEach(() => {
  emulator.reset()
  emulator.setFaults(undefined)
  slackPosts.length = 0
  slackAnswers.length = 0
})

const stream = (): ProductEvent[] => [
  identify('ada@acme.io', 'u-ada', { plan: 'paying' }, NOW - 5 * DAY),
  track({ email: 'ada@acme.io' }, 'Project Created', NOW - 5 * DAY + HOUR, { company: { groupId: 'acme' } }),
  track({ userId: 'u-ada' }, 'Project Created', NOW - 4 * DAY, { company: { groupId: 'acme' } }),
  track({ email: 'bob@acme.io', userId: 'u-bob' }, 'Project Created', NOW - 3 * DAY, { company: { groupId: 'acme' } }),
  track({ email: 'ada@acme.io' }, 'Teammate Invited', NOW - 2 * DAY),
  track({ email: 'ada@acme.io' }, 'Teammate Invited', NOW - 2 * DAY + HOUR),
  track({ email: 'cy@globex.com' }, 'Project Created', NOW - 20 * DAY, { company: { groupId: 'globex' } })
]

describe('the sync pipeline against the HubSpot emulator (official client over HTTP)', () => {
  it('bootstrap creates the groups and properties once; the second time it only reads', async () => {
    const first = await pipeline().bootstrap(true)
    expect(first.created).toEqual(
      expect.arrayContaining(['contacts group pqlkit_product_usage', 'contacts.pql_score', 'contacts.pql_score_tier', 'contacts.pqlkit_state', 'companies.account_score'])
    )
    const before = emulator.stats().byEndpoint
    const second = await pipeline().bootstrap(true)
    expect(second.created).toEqual([])
    const after = emulator.stats().byEndpoint
    expect(after['POST /crm/v3/properties/contacts'] ?? 0).toBe(before['POST /crm/v3/properties/contacts'] ?? 0)
    const tier = (emulator.dump().properties as { objectType: string; name: string; type: string; fieldType: string; options: { value: string }[] }[]).find(
      (p) => p.objectType === 'contacts' && p.name === 'pql_score_tier'
    )
    expect(tier).toMatchObject({ type: 'enumeration', fieldType: 'select' })
    expect(tier!.options.map((o) => o.value)).toEqual(['Cold', 'Warm', 'Sales-Ready'])
  })

  it('stores what simulate computes, resolves userId-only events through pqlkit_user_id, and associates contacts to companies', async () => {
    const events = stream()
    const results = await deliver(pipeline(), events)
    expect(results.every((r) => r.status === 'ok')).toBe(true)
    const expected = simulate(MODEL, events, NOW)
    const contacts = stored('contacts')
    for (const subject of expected.subjects.filter((s) => s.subject === 'contact')) {
      for (const [name, value] of Object.entries(subject.properties)) {
        if (name.endsWith('_updated_at')) continue
        expect([subject.id, name, contacts[subject.id]?.[name] ?? '']).toEqual([subject.id, name, String(value)])
      }
    }
    expect(contacts['ada@acme.io']).toMatchObject({ projects: '2', pqlkit_user_id: 'u-ada', pql_score_tier: 'Sales-Ready' })
    const companies = stored('companies')
    expect(companies.acme).toMatchObject({ users: '2', company_projects: '3', account_score: '50' })
    const dump = emulator.dump()
    const ids = Object.fromEntries((dump.contacts as { id: string; properties: Record<string, string> }[]).map((c) => [c.properties.email, c.id]))
    const acme = (dump.companies as { id: string; properties: Record<string, string> }[]).find((c) => c.properties.pqlkit_company_key === 'acme')!
    const pairs = (dump.associations as { from: string; to: string }[]).map((a) => `${a.from}->${a.to}`)
    expect(pairs).toEqual(expect.arrayContaining([`${ids['ada@acme.io']}->${acme.id}`, `${ids['bob@acme.io']}->${acme.id}`]))
  })

  it('the bare-fetch API of the sandbox hosts stores the same as the official client, task and association included', async () => {
    const events = stream()
    await deliver(pipeline(), events)
    const official = { contacts: stored('contacts'), companies: stored('companies'), associations: associated() }
    expect(official.associations).toEqual(['ada@acme.io->acme', 'bob@acme.io->acme', 'cy@globex.com->globex'])
    emulator.reset()
    const api = new HubSpotApi(
      { accessToken: emulator.accessToken, basePath: emulator.url },
      new Transport(undefined, { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 }),
      (url, init) => fetch(url, init)
    )
    const sender = new DefaultHandoffSender({ post: async () => ({ status: 200 }), api, portalId: 123456, now: () => NOW })
    const sync = createPipeline({ api, model: MODEL, handoffs: sender })
    await sync.process(events.slice(0, 2), NOW)
    expect((await deliver(sync, events)).every((r) => r.status === 'ok')).toBe(true)
    expect({ contacts: stored('contacts'), companies: stored('companies'), associations: associated() }).toEqual(official)
    expect(emulator.dump().tasks).toHaveLength(1)
    expect(api.transport.stats.byEndpoint['POST /crm/v3/objects/contacts/batch/read']).toBeGreaterThan(0)
  })

  it('a retried batch does not double-count and writes nothing', async () => {
    const events = stream()
    const sync = pipeline()
    await deliver(sync, events)
    const first = { contacts: stored('contacts'), companies: stored('companies') }
    const before = emulator.stats().byEndpoint
    const report = await sync.process(events, NOW)
    expect(report.results.every((r) => r.status === 'ok')).toBe(true)
    expect(report.written).toEqual({ contacts: 0, companies: 0 })
    expect({ contacts: stored('contacts'), companies: stored('companies') }).toEqual(first)
    const after = emulator.stats().byEndpoint
    expect(after['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0).toBe(before['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0)
  })

  it('a batch with an invalid record writes all the others; a property of another type is left out and named, its event lands', async () => {
    // RevOps already had a `plan` property on contacts, as a number: HubSpot would reject "paying".
    const created = await fetch(`${emulator.url}/crm/v3/properties/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emulator.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'plan', label: 'Plan', type: 'number', fieldType: 'number', groupName: 'contactinformation' })
    })
    expect(created.status).toBe(201)
    const sync = pipeline()
    const events = [
      track({ email: 'ok1@acme.io' }, 'Project Created', NOW - HOUR),
      track({}, 'Project Created', NOW - HOUR),
      identify('paying@acme.io', undefined, { plan: 'paying' }, NOW - HOUR),
      track({ email: 'ok2@acme.io' }, 'Project Created', NOW - HOUR)
    ]
    const report = await sync.process(events, NOW)
    expect(report.results.map((r) => r.status)).toEqual(['ok', 'invalid', 'ok', 'ok'])
    expect((report.results[1] as { message: string }).message).toBe('email: the event has no identity: it needs an email or a userId')
    expect(report.problems).toContain(
      'contacts.plan is a number property in HubSpot, but pqlkit writes string values to it: it is left out of every write (change its type in HubSpot, or rename it in the model)'
    )
    const contacts = stored('contacts')
    expect(Object.keys(contacts).sort()).toEqual(['ok1@acme.io', 'ok2@acme.io', 'paying@acme.io'])
    expect(contacts['paying@acme.io'].plan).toBeUndefined()
    expect(contacts['paying@acme.io'].pql_score).toBe('20')
  })

  it('429 storms, 5xx bursts, latency and dropped connections end in the same stored state as a clean run', async () => {
    const events = stream()
    await deliver(pipeline(), events)
    const clean = { contacts: stored('contacts'), companies: stored('companies') }
    emulator.reset()
    emulator.setFaults({ seed: 7, rate429: 0.25, rate5xx: 0.2, dropRate: 0.05, latencyMs: 2 })
    const results = await deliver(pipeline({ attempts: 3 }), events, 30)
    emulator.setFaults(undefined)
    expect(results.filter((r) => r.status !== 'ok')).toEqual([])
    expect(emulator.stats().status['429']).toBeGreaterThan(0)
    expect({ contacts: stored('contacts'), companies: stored('companies') }).toEqual(clean)
  }, 60_000)

  it('records a 207 failed are written again at once: the batch completes without re-delivery', async () => {
    const events = stream()
    await deliver(pipeline(), events)
    const clean = { contacts: stored('contacts'), companies: stored('companies') }
    emulator.reset()
    emulator.setFaults({ seed: 11, partialRate: 0.3 })
    const report = await pipeline().process(events, NOW)
    expect(emulator.stats().status['207']).toBeGreaterThan(0)
    expect(report.results.filter((r) => r.status !== 'ok')).toEqual([])
    emulator.setFaults(undefined)
    expect({ contacts: stored('contacts'), companies: stored('companies') }).toEqual(clean)
  })

  it('records still failing after the re-writes are reported retryable; re-delivering them completes the state', async () => {
    const events = stream()
    await deliver(pipeline(), events)
    const clean = { contacts: stored('contacts'), companies: stored('companies') }
    emulator.reset()
    emulator.setFaults({ seed: 11, partialRate: 0.6 })
    const sync = pipeline()
    const firstTry = await sync.process(events, NOW)
    expect(firstTry.results.some((r) => r.status === 'retryable')).toBe(true)
    expect(firstTry.results.some((r) => r.status === 'ok')).toBe(true)
    emulator.setFaults(undefined)
    await deliver(sync, events.filter((_, i) => firstTry.results[i].status === 'retryable'))
    expect({ contacts: stored('contacts'), companies: stored('companies') }).toEqual(clean)
  })

  it('entering a tier posts to Slack and creates a task once; a retried batch sends neither again', async () => {
    const events = stream()
    const sync = pipeline({ handoffs: true })
    // ada exists before her big day, so the hand-off goes out before the write.
    await sync.process(events.slice(0, 2), NOW)
    const report = await sync.process(events, NOW)
    expect(report.handoffs).toEqual([{ on: 'enters Sales-Ready', contact: 'ada@acme.io', sent: true }])
    expect(slackPosts).toHaveLength(1)
    expect(slackPosts[0].url).toBe('https://hooks.slack.com/services/T1/B1/pipeline-secret')
    expect(JSON.parse(slackPosts[0].body).text).toBe('PQL: ada@acme.io enters Sales-Ready (score 90)')
    const tasks = emulator.dump().tasks as { properties: Record<string, string>; associations: unknown }[]
    expect(tasks).toHaveLength(1)
    expect(tasks[0].properties.hs_task_subject).toBe('PQL handoff: ada@acme.io (90)')
    const again = await sync.process(events, NOW)
    expect(again.handoffs).toEqual([])
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
  })

  it('a Slack post that fails transiently is kept pending on the contact, sent at its redelivery once, and not again', async () => {
    const events = stream()
    const sync = pipeline({ handoffs: true })
    await sync.process(events.slice(0, 2), NOW)
    slackAnswers.push(503)
    const report = await sync.process(events, NOW)
    expect(report.handoffs).toEqual([expect.objectContaining({ on: 'enters Sales-Ready', contact: 'ada@acme.io', sent: false })])
    expect(slackPosts).toHaveLength(0)
    expect(emulator.dump().tasks).toHaveLength(1)
    // Her events are to be sent again; the others are not.
    const retry = events.flatMap((event, index) => (report.results[index].status === 'retryable' ? [event] : []))
    expect(retry.map((event) => event.email ?? event.userId)).toEqual(['ada@acme.io', 'ada@acme.io', 'u-ada', 'ada@acme.io', 'ada@acme.io'])
    const redelivered = await sync.process(retry, NOW)
    expect(redelivered.results.every((result) => result.status === 'ok')).toBe(true)
    expect(redelivered.handoffs).toEqual([{ on: 'enters Sales-Ready', contact: 'ada@acme.io', sent: true }])
    expect(slackPosts).toHaveLength(1)
    expect(JSON.parse(slackPosts[0].body).text).toBe('PQL: ada@acme.io enters Sales-Ready (score 90)')
    expect(emulator.dump().tasks).toHaveLength(1)
    const again = await sync.process(events, NOW)
    expect(again.handoffs).toEqual([])
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
  })

  it('a task HubSpot created without an answer is not created again at once but kept pending, found at the next processing (the sweep)', async () => {
    const events = stream()
    const sync = pipeline({ handoffs: true })
    await sync.process(events.slice(0, 2), NOW)
    const held = emulator.holdNext('POST /crm/v3/objects/tasks')
    const run = sync.process(events, NOW)
    await held.reached
    held.drop()
    const report = await run
    expect(report.handoffs).toEqual([expect.objectContaining({ on: 'enters Sales-Ready', contact: 'ada@acme.io', sent: false })])
    expect(report.problems).toContainEqual(expect.stringContaining('kept pending'))
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
    const swept = await sync.sweep(NOW)
    expect(swept.handoffs).toEqual([{ on: 'enters Sales-Ready', contact: 'ada@acme.io', sent: true }])
    expect(slackPosts).toHaveLength(1)
    expect(emulator.dump().tasks).toHaveLength(1)
    const again = await sync.sweep(NOW)
    expect(again.handoffs).toEqual([])
    expect(emulator.dump().tasks).toHaveLength(1)
  })

  it("a contact created by the batch gets its task on its new record, found in the upsert's answer by the email pqlkit sent", async () => {
    const report = await pipeline({ handoffs: true }).process(stream(), NOW)
    expect(report.handoffs).toEqual([{ on: 'enters Sales-Ready', contact: 'ada@acme.io', sent: true }])
    const ada = emulator.dump().contacts.find((record) => record.properties.email === 'ada@acme.io')!
    const tasks = emulator.dump().tasks as { associations: { toObjectType: string; toId: string }[] }[]
    expect(tasks).toHaveLength(1)
    expect(tasks[0].associations).toEqual([expect.objectContaining({ toObjectType: 'contacts', toId: ada.id })])
  })

  it('sweep re-evaluates decayed scores later and writes only the difference', async () => {
    const events = stream()
    const sync = pipeline()
    await deliver(sync, events)
    const before = stored('contacts')
    const later = NOW + 14 * DAY
    const report = await sync.sweep(later, { sleep: async () => undefined })
    expect(report.examined).toBeGreaterThanOrEqual(3)
    const after = stored('contacts')
    const expected = simulate(MODEL, events, later)
    for (const subject of expected.subjects.filter((s) => s.subject === 'contact')) {
      expect([subject.id, after[subject.id].pql_score]).toEqual([subject.id, String(subject.properties.pql_score)])
    }
    expect(Number(after['ada@acme.io'].pql_score)).toBeLessThan(Number(before['ada@acme.io'].pql_score))
    const again = await sync.sweep(later, { sleep: async () => undefined })
    expect(again.changed).toBe(0)
  })
})
