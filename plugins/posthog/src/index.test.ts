import { RetryError } from '@posthog/plugin-scaffold'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { loadModel, modelProperties } from '@pqlkit/core/portable'
import { onEvent, PluginConfig, PqlkitMeta, setupPlugin } from './index'

const MODEL = JSON.stringify({
  version: 1,
  name: 'posthog unit',
  signals: { projects: { count: 'Project Created' } },
  scores: [{ property: 'pql_score', rules: [{ label: 'Projects', per: 'projects', points: 10 }] }]
})

/** The plugin server's global `fetch`, answering every HubSpot call with `status`. */
function hubspotAnswering(status: number, body: unknown): jest.SpyInstance {
  return jest.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }))
}

function meta(config: Partial<PluginConfig> = {}): PqlkitMeta {
  return {
    config: { hubspotAccessToken: 'pat-secret', model: MODEL, hubspotBaseUrl: 'https://hubspot.test', ...config },
    global: {}
  } as unknown as PqlkitMeta
}

const event = (overrides: Partial<ProcessedPluginEvent> = {}): ProcessedPluginEvent =>
  ({
    uuid: '0190-unit',
    event: 'Project Created',
    distinct_id: 'u1',
    timestamp: new Date(Date.now() - 60_000).toISOString(),
    properties: { $set: { email: 'ada@acme.io' } },
    ...overrides
  }) as ProcessedPluginEvent

afterEach(() => jest.restoreAllMocks())

describe('setupPlugin (PostHog)', () => {
  it('merges the mapped properties setting into the model, and names a bad mapping in it', () => {
    const scoresOnly = JSON.stringify({ version: 1, name: 'scores only', scores: [{ property: 'pql_score', rules: [{ per: 'reports', points: 5 }] }] })
    const mappings = [{ property: 'reports', aggregation: 'count', event: 'Report Created', window: '30d' }]
    const ready = meta({ model: scoresOnly, mappings })
    setupPlugin(ready)
    expect(ready.global.host).toBeDefined()
    expect(() => setupPlugin(meta({ model: scoresOnly, mappings: JSON.stringify(mappings) }))).not.toThrow()
    expect(() => setupPlugin(meta({ model: scoresOnly, mappings: [{ ...mappings[0], aggregation: 'sum' }] }))).toThrow(
      'pqlkit: the mapped properties setting is invalid: mappings:1:2: [0].value: sum needs the value to read, such as amount'
    )
    expect(() => setupPlugin(meta({ model: scoresOnly }))).toThrow(/^pqlkit: the PQL model setting is invalid: model:1:\d+: scores\[0\]\.rules\[0\]\.per: unknown signal "reports"$/)
  })

  it('names each setting it refuses, never as a RetryError', () => {
    expect(() => setupPlugin(meta({ hubspotAccessToken: ' ' }))).toThrow('pqlkit: set the HubSpot private app access token')
    expect(() => setupPlugin(meta({ model: '' }))).toThrow('pqlkit: the "PQL model (JSON)" setting is empty')
    expect(() => setupPlugin(meta({ model: '{"version":1}' }))).toThrow(/^pqlkit: the PQL model setting is invalid: /)
    expect(() => setupPlugin(meta({ portalId: 'abc' }))).toThrow('pqlkit: the HubSpot portal id must be a number')
    expect(() => setupPlugin(meta({ slackWebhook: 'http://hooks.slack.com/x' }))).toThrow('pqlkit: the default Slack webhook setting: the Slack webhook is not an https URL')
    for (const bad of [{ hubspotAccessToken: '' }, { model: 'nope' }]) {
      expect(() => setupPlugin(meta(bad))).not.toThrow(RetryError)
    }
  })

  it('names a property the portal has with an incompatible type in the plugin log, before any event', async () => {
    const properties = modelProperties(loadModel(MODEL), 'contacts').map((property) =>
      property.name === 'projects' ? { ...property, type: 'datetime', fieldType: 'date' } : property
    )
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (url) => {
      const path = String(url)
      const body = path.endsWith('/groups') ? { results: [{ name: 'pqlkit_product_usage' }, { name: 'pqlkit_internals' }] } : { results: properties }
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
    })
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined)
    const plugin = meta()
    setupPlugin(plugin)
    await plugin.global.host.pipeline.bootstrap()
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^pqlkit: contacts\.projects is a datetime property in HubSpot, but pqlkit writes number values to it/))
  })
})

describe('onEvent (PostHog)', () => {
  it('maps a HubSpot outage to RetryError, so PostHog delivers the event again', async () => {
    hubspotAnswering(503, { message: 'down' })
    const plugin = meta()
    setupPlugin(plugin)
    const error = await Promise.resolve(onEvent(event(), plugin)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RetryError)
    expect((error as Error).message).toMatch(/^pqlkit: event 0190-unit "Project Created": /)
  }, 20_000)

  it('maps a rejected token to a plain error that says what to check, without the token', async () => {
    hubspotAnswering(401, { status: 'error', message: 'Authentication credentials not found.', category: 'INVALID_AUTHENTICATION' })
    const plugin = meta()
    setupPlugin(plugin)
    const error = (await Promise.resolve(onEvent(event(), plugin)).catch((e: unknown) => e)) as Error
    expect(error).not.toBeInstanceOf(RetryError)
    expect(error.message).toBe('pqlkit: HubSpot rejected the access token: check the private app token and its CRM scopes')
    expect(error.message).not.toContain('pat-secret')
  })

  it('refuses an event without identity as a plain error naming the event', async () => {
    hubspotAnswering(200, { results: [] })
    const plugin = meta()
    setupPlugin(plugin)
    const error = (await Promise.resolve(onEvent(event({ distinct_id: '', properties: {} }), plugin)).catch((e: unknown) => e)) as Error
    expect(error).not.toBeInstanceOf(RetryError)
    expect(error.message).toMatch(/^pqlkit: event 0190-unit "Project Created": /)
  })
})
