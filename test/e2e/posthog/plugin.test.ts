import { ProcessedPluginEvent, RetryError } from '@posthog/plugin-scaffold'
import * as plugin from '@pqlkit/posthog-plugin'
import { LAST_SWEEP_KEY, PluginConfig } from '@pqlkit/posthog-plugin'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { memoryStorage, pluginMeta } from '../../harness/posthog/plugin-server'
import { freezeDate } from '../../harness/fakes'

/**
 * The plugin as PostHog's plugin server runs it: `setupPlugin`, then `onEvent` for each event
 * (many at once), the hourly task, `teardownPlugin`, with a `meta` built like the server's and
 * the HubSpot emulator behind the plugin's `fetch`.
 */
const MODEL = {
  version: 1,
  name: 'PostHog plugin test',
  signals: {
    projects: { count: 'Project Created' },
    invites_l7d: { count: 'Teammate Invited', window: '7d' },
    plan: { trait: 'plan' }
  },
  scores: [
    {
      property: 'pql_score',
      rules: [
        { label: 'Projects', per: 'projects', every: 1, points: 10, cap: 30 },
        { label: 'Invited 2+ this week', when: 'invites_l7d >= 2', points: 40 },
        { label: 'Paying plan', when: 'plan == "paying"', points: 20 }
      ],
      tiers: { Cold: 0, Warm: 30, 'Sales-Ready': 80 }
    }
  ],
  company: {
    signals: { users: { distinct_users: '*' }, plan: { trait: 'plan' } },
    scores: [{ property: 'company_pql_score', rules: [{ label: 'Users', per: 'users', every: 1, points: 10, cap: 50 }] }]
  }
}
const NOW = Date.parse('2026-11-20T12:00:00.000Z')
const DAY = 86_400_000

let emulator: Emulator
beforeAll(async () => {
  freezeDate(NOW)
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 } })
})
beforeEach(() => {
  emulator.reset()
  emulator.setFaults(undefined)
  jest.setSystemTime(NOW)
})
afterAll(async () => {
  jest.useRealTimers()
  await emulator.stop()
})

const config = (overrides: Partial<PluginConfig> = {}): PluginConfig => ({
  hubspotAccessToken: emulator.accessToken,
  model: JSON.stringify(MODEL),
  hubspotBaseUrl: emulator.url,
  ...overrides
})

function setUp(overrides: Partial<PluginConfig> = {}) {
  const meta = pluginMeta(config(overrides))
  plugin.setupPlugin!(meta)
  return meta
}

let sequence = 0
function event(name: string, fields: Partial<ProcessedPluginEvent> & { email?: string; at?: number } = {}): ProcessedPluginEvent {
  const { email, at, ...rest } = fields
  return {
    distinct_id: 'user-1',
    ip: null,
    team_id: 1,
    event: name,
    properties: {},
    timestamp: new Date(at ?? NOW - DAY).toISOString(),
    uuid: `0192f7a0-0000-7000-8000-${String(++sequence).padStart(12, '0')}`,
    person: email === undefined ? undefined : { uuid: 'person-1', team_id: 1, properties: { email }, created_at: '2026-11-01T00:00:00Z' },
    ...rest
  }
}

type Stored = { id: string; properties: Record<string, string | null> }
const contacts = () => (emulator.dump() as { contacts: Stored[] }).contacts
const companies = () => (emulator.dump() as { companies: Stored[] }).companies
const contact = (email: string) => contacts().find((record) => record.properties.email === email)

describe('setupPlugin', () => {
  it('accepts a good model, as a JSON string or as parsed JSON', () => {
    expect(setUp().global.host).toBeDefined()
    expect(setUp({ model: MODEL as unknown as Record<string, unknown> }).global.host.pipeline.model.name).toBe('PostHog plugin test')
  })

  it('refuses a bad model with a clear error naming the rule, not a RetryError', () => {
    const broken = { ...MODEL, scores: [{ property: 'pql_score', rules: [{ label: 'Projects', when: 'projectz >= 3', points: 10 }] }] }
    let thrown: unknown
    try {
      setUp({ model: JSON.stringify(broken) })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(Error)
    expect(thrown).not.toBeInstanceOf(RetryError)
    expect((thrown as Error).message).toMatch(/^pqlkit: the PQL model setting is invalid: .*Projects.*projectz.*did you mean "projects"/)
  })

  it('names each missing or wrong setting, and never echoes the Slack webhook', () => {
    expect(() => setUp({ hubspotAccessToken: ' ' })).toThrow('pqlkit: set the HubSpot private app access token')
    expect(() => setUp({ model: '' })).toThrow('the "PQL model (JSON)" setting is empty')
    expect(() => setUp({ model: '{"version": 1,' })).toThrow(/the PQL model setting is invalid/)
    expect(() => setUp({ portalId: 'abc' })).toThrow('the HubSpot portal id must be a number')
    const secretPath = 'https://evil.example.com/services/T000/B000/SECRETPATH'
    expect(() => setUp({ slackWebhook: secretPath })).toThrow(/host evil\.example\.com is not allow-listed/)
    expect(() => setUp({ slackWebhook: secretPath })).not.toThrow(/SECRETPATH/)
  })
})

describe('onEvent', () => {
  it('maps $identify with $set to the contact’s traits, identity from the person’s email', async () => {
    const meta = setUp()
    await plugin.onEvent!(event('$identify', { email: 'Ada@Example.com', properties: { $set: { plan: 'paying' } }, $set: { plan: 'paying' } }), meta)
    const stored = contact('ada@example.com')!
    expect(stored.properties).toMatchObject({ plan: 'paying', pql_score: '20', pql_score_tier: 'Cold', pqlkit_user_id: 'user-1' })
  })

  it('takes the email from $set, then from the properties, when the person has none yet', async () => {
    const meta = setUp()
    await plugin.onEvent!(event('$identify', { distinct_id: 'u-set', properties: { $set: { email: 'set@example.com', plan: 'free' } } }), meta)
    await plugin.onEvent!(event('Project Created', { distinct_id: 'u-props', properties: { email: 'props@example.com' } }), meta)
    expect(contact('set@example.com')?.properties.plan).toBe('free')
    expect(contact('props@example.com')?.properties.pql_score).toBe('10')
  })

  it('maps $groupidentify with $group_set to the company, and custom events with $groups to its users', async () => {
    const meta = setUp()
    await Promise.all([
      plugin.onEvent!(
        event('$groupidentify', {
          email: 'ada@acme.io',
          properties: { $group_type: 'company', $group_key: 'acme', $group_set: { name: 'Acme', domain: 'acme.io', plan: 'paying' } }
        }),
        meta
      ),
      plugin.onEvent!(event('Project Created', { email: 'ada@acme.io', properties: { $groups: { company: 'acme' } } }), meta),
      plugin.onEvent!(event('Project Created', { distinct_id: 'user-2', email: 'bob@acme.io', properties: { $groups: { company: 'acme' } } }), meta)
    ])
    const [company] = companies()
    expect(company.properties).toMatchObject({ pqlkit_company_key: 'acme', name: 'Acme', plan: 'paying', users: '2', company_pql_score: '20' })
    // Another group type is not a company here: skipped, no error.
    await plugin.onEvent!(event('$groupidentify', { email: 'ada@acme.io', properties: { $group_type: 'project', $group_key: 'p1', $group_set: { name: 'P1' } } }), meta)
    expect(companies()).toHaveLength(1)
  })

  it('sends nothing to HubSpot for PostHog’s own events no signal names (`*` means custom events)', async () => {
    const meta = setUp()
    await plugin.onEvent!(event('Project Created', { email: 'ada@example.com' }), meta)
    const requests = emulator.stats().requests
    await Promise.all(['$pageview', '$pageleave', '$autocapture', '$feature_flag_called'].map((name) => plugin.onEvent!(event(name, { email: 'ada@example.com' }), meta)))
    expect(emulator.stats().requests).toBe(requests)
  })

  it('fails an event without identity with a plain error naming it, and lands the others', async () => {
    const meta = setUp()
    const anonymous = event('Project Created', { distinct_id: 'device-1', properties: { $device_id: 'device-1' } })
    const results = await Promise.allSettled([plugin.onEvent!(anonymous, meta), plugin.onEvent!(event('Project Created', { email: 'ada@example.com' }), meta)])
    expect(results[0].status).toBe('rejected')
    const reason = (results[0] as PromiseRejectedResult).reason as Error
    expect(reason).not.toBeInstanceOf(RetryError)
    expect(reason.message).toBe(`pqlkit: event ${anonymous.uuid} "Project Created": email: the event has no identity: it needs an email or a userId`)
    expect(results[1].status).toBe('fulfilled')
    expect(contact('ada@example.com')?.properties.projects).toBe('1')
  })

  it('gathers concurrent events into few HubSpot calls', async () => {
    const meta = setUp()
    await plugin.onEvent!(event('Project Created', { distinct_id: 'warm-up', email: 'warm@example.com' }), meta)
    const before = emulator.stats().requests
    const users = Array.from({ length: 60 }, (_, i) => `user${i}@example.com`)
    await Promise.all(users.map((email, i) => plugin.onEvent!(event('Project Created', { distinct_id: `u${i}`, email }), meta)))
    expect(contacts()).toHaveLength(61)
    // Two batch reads (a read with property history takes 50), one upsert: not 60 of each.
    expect(emulator.stats().requests - before).toBeLessThanOrEqual(5)
  })

  it('throws RetryError in a 429 storm, and the event delivered again counts once', async () => {
    const meta = setUp()
    await plugin.onEvent!(event('Project Created', { email: 'ada@example.com' }), meta)
    const again = event('Project Created', { email: 'ada@example.com' })
    emulator.setFaults({ seed: 7, rate429: 1 })
    let thrown: unknown
    try {
      await plugin.onEvent!(again, meta)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(RetryError)
    expect((thrown as Error).message).toMatch(new RegExp(`^pqlkit: event ${again.uuid} "Project Created": HubSpot kept rate-limiting`))
    expect((thrown as Error).message).not.toContain(emulator.accessToken)
    emulator.setFaults(undefined)
    await plugin.onEvent!(again, meta)
    await plugin.onEvent!(again, meta)
    expect(contact('ada@example.com')?.properties).toMatchObject({ projects: '2', pql_score: '20' })
  }, 45_000)

  it('turns a rejected token into a plain error that names the token setting, never the token', async () => {
    const meta = setUp({ hubspotAccessToken: 'pat-na1-not-the-right-one' })
    const attempt = plugin.onEvent!(event('Project Created', { email: 'ada@example.com' }), meta)
    await expect(attempt).rejects.toThrow('pqlkit: HubSpot rejected the access token: check the private app token and its CRM scopes')
    await expect(attempt).rejects.not.toBeInstanceOf(RetryError)
  })
})

describe('the scheduled sweep and teardown', () => {
  it('re-evaluates time-based values once per UTC day, remembered in storage', async () => {
    const meta = setUp()
    await Promise.all(
      ['Teammate Invited', 'Teammate Invited'].map((name) => plugin.onEvent!(event(name, { email: 'ada@example.com' }), meta))
    )
    expect(contact('ada@example.com')?.properties).toMatchObject({ invites_l7d: '2', pql_score: '40', pql_score_tier: 'Warm' })

    jest.setSystemTime(NOW + 10 * DAY)
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined)
    await plugin.runEveryHour!(meta)
    expect(contact('ada@example.com')?.properties).toMatchObject({ invites_l7d: '0', pql_score: '0', pql_score_tier: 'Cold' })
    expect(await meta.storage.get(LAST_SWEEP_KEY, null)).toBe('2026-11-30')
    expect(log).toHaveBeenCalledWith('pqlkit sweep 2026-11-30: 1 examined, 1 changed, 0 hand-offs')

    // The next hourly tick of the same day searches nothing.
    const searches = () => emulator.stats().byEndpoint['POST /crm/v3/objects/contacts/search'] ?? 0
    const before = searches()
    await plugin.runEveryHour!(meta)
    expect(searches()).toBe(before)
    jest.setSystemTime(NOW + 11 * DAY)
    await plugin.runEveryHour!(meta)
    expect(searches()).toBeGreaterThan(before)
    expect(log).toHaveBeenCalledTimes(2)
    log.mockRestore()
  })

  it('keeps no sweep mark when the sweep fails, so the next tick tries again', async () => {
    const meta = setUp()
    meta.storage = memoryStorage()
    emulator.setFaults({ seed: 3, rate5xx: 1 })
    await expect(plugin.runEveryHour!(meta)).rejects.toThrow()
    expect(await meta.storage.get(LAST_SWEEP_KEY, null)).toBeNull()
  }, 30_000)

  it('writes what it has gathered before it unloads', async () => {
    const meta = setUp()
    const pending = plugin.onEvent!(event('Project Created', { email: 'ada@example.com' }), meta)
    await plugin.teardownPlugin!(meta)
    expect(contact('ada@example.com')?.properties.projects).toBe('1')
    await expect(pending).resolves.toBeUndefined()
  })
})
