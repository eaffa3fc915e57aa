import nock from 'nock'
import { createTestIntegration, IntegrationError, RetryableError } from '@segment/actions-core'
import destination from '../index'
import type { Settings } from '../generated-types'
import { bootstrapped, completed, HUBSPOT, record } from './hubspot-nock'

const MODEL = JSON.stringify({
  version: 1,
  name: 'segment unit tests',
  signals: { projects: { count: 'Project Created' }, plan: { trait: 'plan' } },
  scores: [
    {
      property: 'pql_score',
      rules: [
        { label: 'Projects', per: 'projects', points: 10 },
        { label: 'Paying', when: 'plan == "paying"', points: 20 }
      ],
      tiers: { Cold: 0, Hot: 50 }
    }
  ],
  company: { signals: { users: { distinct_users: '*' } } }
})
const CONTACT_PROPERTIES = [
  'projects',
  'plan',
  'pql_score',
  'pql_score_tier',
  'pql_score_reasons',
  'pql_score_updated_at',
  'pqlkit_state',
  'pqlkit_contribution',
  'pqlkit_last_event_at',
  'pqlkit_user_id',
  'pqlkit_handoff_claim'
]
const READ_PROPERTIES = [...CONTACT_PROPERTIES, 'email', 'firstname', 'lastname', 'jobtitle', 'lifecyclestage', 'hubspot_owner_id', 'company']

let settings: Settings
let testDestination: ReturnType<typeof createTestIntegration<Settings>>
let run = 0

beforeAll(() => nock.disableNetConnect())
afterAll(() => nock.enableNetConnect())
beforeEach(() => {
  // A fresh token per test: the destination keeps one pipeline per settings and process.
  settings = { accessToken: `pat-na1-test-${++run}`, model: MODEL }
  testDestination = createTestIntegration(destination)
  bootstrapped(MODEL)
})
afterEach(() => nock.cleanAll())

const trackEvent = (overrides: Record<string, unknown> = {}) => ({
  type: 'track' as const,
  event: 'Project Created',
  messageId: 'msg-1',
  timestamp: new Date(Date.now() - 3_600_000).toISOString(),
  userId: 'u-ada',
  properties: { project_id: 'p1' },
  context: { traits: { email: 'Ada@Acme.io' } },
  ...overrides
})

describe('trackEvent', () => {
  it('reads the contact by email and upserts exactly the changed properties with the new state', async () => {
    let upserted: { inputs: { idProperty: string; id: string; properties: Record<string, string> }[] } | undefined
    nock(HUBSPOT, { reqheaders: { authorization: `Bearer ${settings.accessToken}` } })
      .post('/crm/v3/objects/contacts/batch/read', {
        idProperty: 'email',
        inputs: [{ id: 'ada@acme.io' }],
        properties: READ_PROPERTIES,
        propertiesWithHistory: ['pqlkit_contribution']
      })
      .query({ archived: false })
      .reply(200, completed([]))
      // No record has her email: her userId is not read (the upsert carries it; should a record
      // hold it, HubSpot's 409 brings the read back).
      .post('/crm/v3/objects/contacts/batch/upsert', (body) => {
        upserted = body
        return true
      })
      .reply(200, completed([record('501', { email: 'ada@acme.io' })]))

    const before = Date.now()
    const event = trackEvent()
    await testDestination.testAction('trackEvent', { event, settings, useDefaultMappings: true })
    const after = Date.now()

    expect(upserted!.inputs).toHaveLength(1)
    const { pqlkit_state, pqlkit_contribution, pql_score_updated_at, ...properties } = upserted!.inputs[0].properties
    expect(upserted!.inputs[0]).toMatchObject({ idProperty: 'email', id: 'ada@acme.io' })
    expect(properties).toEqual({
      projects: '1',
      pql_score: '10',
      pql_score_tier: 'Cold',
      pql_score_reasons: 'Projects (+10)',
      pqlkit_user_id: 'u-ada',
      pqlkit_last_event_at: event.timestamp,
      // The key goes among the properties too: HubSpot's answer need not echo idProperty.
      email: 'ada@acme.io'
    })
    // `now` is the host's clock when the batch is processed.
    expect(Date.parse(pql_score_updated_at)).toBeGreaterThanOrEqual(before)
    expect(Date.parse(pql_score_updated_at)).toBeLessThanOrEqual(after)
    expect(JSON.parse(pqlkit_state)).toMatchObject({ v: 2, m: expect.stringMatching(/^[0-9a-z]{8}$/) })
    // The write's contribution: its event as the model reads it, for a concurrent write's repair.
    expect(JSON.parse(pqlkit_contribution)).toMatchObject({ i: [], e: [{ k: 't', m: 'msg-1', n: 'Project Created' }] })
    expect(nock.pendingMocks().filter((mock) => !mock.includes('/properties/'))).toEqual([])
  })

  it('an event without email or user id is a PayloadValidationError naming the field', async () => {
    await expect(
      testDestination.testAction('trackEvent', {
        event: trackEvent({ userId: null, context: {} }),
        settings,
        useDefaultMappings: true
      })
    ).rejects.toThrow('email: the event has no identity: it needs an email or a userId')
  })

  it('a malformed model setting is a clear IntegrationError', async () => {
    const broken = { ...settings, model: MODEL.replace('"points":20', '"points":2.5') }
    const error = await testDestination
      .testAction('trackEvent', { event: trackEvent(), settings: broken, useDefaultMappings: true })
      .catch((e) => e)
    expect(error).toBeInstanceOf(IntegrationError)
    expect(error.message).toBe('The PQL model setting is invalid: model:1:265: scores[0].rules[1].points: points are whole numbers')
  })

  it('a name the model does not define waits, retryable, for a mapping that may define it (docs/mappings.md)', async () => {
    const unresolved = { ...settings, model: MODEL.replace('plan == \\"paying\\"', 'plann == \\"paying\\"') }
    const error = await testDestination
      .testAction('trackEvent', { event: trackEvent(), settings: unresolved, useDefaultMappings: true })
      .catch((e) => e)
    expect(error).toBeInstanceOf(RetryableError)
    expect(error.message).toBe(
      'The PQL model names a signal neither the model nor a Map Event to Property mapping seen so far defines: model:1:235: scores[0].rules[1].when: rule "Paying": unknown name "plann" at column 1 of "plann == "paying"" (did you mean "plan"?). ' +
        'Segment delivers again; the events go through once a mapping of that property has had an event. If no mapping defines it, fix the model or add the mapping.'
    )
  })

  it('a 429 that outlasts the retries is a retryable error', async () => {
    nock(HUBSPOT)
      .post('/crm/v3/objects/contacts/batch/read')
      .query(true)
      .times(6)
      .reply(
        429,
        { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', correlationId: 'c' },
        { 'X-HubSpot-RateLimit-Max': '100', 'X-HubSpot-RateLimit-Interval-Milliseconds': '20', 'Retry-After': '0.01' }
      )
    const error = await testDestination.testAction('trackEvent', { event: trackEvent(), settings, useDefaultMappings: true }).catch((e) => e)
    expect(error.constructor.name).toBe('RetryableError')
    expect(error.status).toBe(429)
    expect(error.message).toMatch(/kept rate-limiting POST \/crm\/v3\/objects\/contacts\/batch\/read/)
  })
})
