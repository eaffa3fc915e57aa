import nock from 'nock'
import { createTestIntegration } from '@segment/actions-core'
import { loadModel, modelProperties } from '@pqlkit/core'
import destination from '../index'
import type { Settings } from '../generated-types'
import { bootstrapped, completed, HUBSPOT, record } from './hubspot-nock'

const MODEL = JSON.stringify({
  version: 1,
  name: 'segment batch tests',
  signals: { projects: { count: 'Project Created' }, plan: { trait: 'plan' } },
  scores: [{ property: 'pql_score', rules: [{ label: 'Projects', per: 'projects', points: 10 }], tiers: { Cold: 0, Hot: 50 } }],
  company: { signals: { users: { distinct_users: '*' } } }
})

let settings: Settings
let testDestination: ReturnType<typeof createTestIntegration<Settings>>
let run = 0

beforeAll(() => nock.disableNetConnect())
afterAll(() => nock.enableNetConnect())
beforeEach(() => {
  settings = { accessToken: `pat-na1-batch-${++run}`, model: MODEL }
  testDestination = createTestIntegration(destination)
  bootstrapped(MODEL)
})
afterEach(() => nock.cleanAll())

const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString()
const track = (email: string | undefined, messageId: string) => ({
  type: 'track' as const,
  event: 'Project Created',
  messageId,
  timestamp: hourAgo(),
  userId: null,
  properties: {},
  context: email ? { traits: { email } } : {}
})

describe('performBatch', () => {
  it('gives one result per event: ok, invalid input, rejected by HubSpot, and HubSpot could not take it', async () => {
    nock(HUBSPOT)
      .post('/crm/v3/objects/contacts/batch/read', (body) => body.idProperty === 'email')
      .query(true)
      .reply(207, { ...completed([]), numErrors: 1, errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'not found', context: { ids: ['ada@acme.io', 'bob@acme.io', 'cy@acme.io'] } }] })
      .post('/crm/v3/objects/contacts/batch/upsert')
      .reply(207, {
        ...completed([record('1', { email: 'ada@acme.io' })]),
        numErrors: 2,
        errors: [
          { status: 'error', category: 'VALIDATION_ERROR', message: 'Property values were not valid', context: { ids: ['bob@acme.io'] } },
          { status: 'error', category: 'INTERNAL_ERROR', message: 'Something went wrong', context: { ids: ['cy@acme.io'] } }
        ]
      })
      // The record HubSpot failed transiently is written again at once, twice, and fails again.
      .post('/crm/v3/objects/contacts/batch/upsert', (body) => body.inputs.length === 1 && body.inputs[0].id === 'cy@acme.io')
      .times(2)
      .reply(207, {
        ...completed([]),
        numErrors: 1,
        errors: [{ status: 'error', category: 'INTERNAL_ERROR', message: 'Something went wrong', context: { ids: ['cy@acme.io'] } }]
      })
    await testDestination.testBatchAction('trackEvent', {
      events: [track('ada@acme.io', 'm1'), track(undefined, 'm2'), track('bob@acme.io', 'm3'), track('cy@acme.io', 'm4')],
      settings,
      useDefaultMappings: true
    })
    const statuses = testDestination.results[0].multistatus!.map((node) => ({
      status: node.status,
      ...('errortype' in node ? { errortype: node.errortype, errormessage: node.errormessage } : {})
    }))
    expect(statuses).toEqual([
      { status: 200 },
      { status: 400, errortype: 'PAYLOAD_VALIDATION_FAILED', errormessage: 'email: the event has no identity: it needs an email or a userId' },
      { status: 400, errortype: 'PAYLOAD_VALIDATION_FAILED', errormessage: 'HubSpot: Property values were not valid' },
      { status: 503, errortype: 'RETRYABLE_ERROR', errormessage: 'HubSpot: Something went wrong' }
    ])
    expect(nock.isDone()).toBe(true)
  })

  it('groupCompany upserts the company by its group id with name and domain, and associates the contact', async () => {
    let company: { inputs: { idProperty: string; id: string; properties: Record<string, string> }[] } | undefined
    let association: unknown
    nock(HUBSPOT)
      .post('/crm/v3/objects/contacts/batch/read', (body) => body.idProperty === 'email')
      .query(true)
      .reply(200, completed([record('77', { email: 'ada@acme.io', pqlkit_state: null })]))
      .post('/crm/v3/objects/companies/batch/read', (body) => body.idProperty === 'pqlkit_company_key' && body.inputs[0].id === 'acme-42')
      .query(true)
      .reply(200, completed([]))
      .post('/crm/v3/objects/companies/batch/upsert', (body) => {
        company = body
        return true
      })
      .reply(200, completed([record('900', { pqlkit_company_key: 'acme-42' })]))
      .post('/crm/v4/associations/contacts/companies/batch/associate/default', (body) => {
        association = body
        return true
      })
      .reply(200, { status: 'COMPLETE', results: [], startedAt: '2026-03-01T00:00:00Z', completedAt: '2026-03-01T00:00:00Z' })
      .post('/crm/v3/objects/contacts/batch/update')
      .reply(200, completed([record('77', {})]))
    const timestamp = hourAgo()
    await testDestination.testAction('groupCompany', {
      event: {
        type: 'group',
        groupId: 'acme-42',
        messageId: 'g1',
        timestamp,
        userId: null,
        traits: { name: 'Acme Inc', website: 'https://www.Acme.io/pricing' },
        context: { traits: { email: 'ada@acme.io' } }
      },
      settings,
      useDefaultMappings: true
    })
    expect(company!.inputs).toHaveLength(1)
    const { pqlkit_state, pqlkit_contribution, ...properties } = company!.inputs[0].properties
    expect(company!.inputs[0]).toMatchObject({ idProperty: 'pqlkit_company_key', id: 'acme-42' })
    // The key goes among the properties too: HubSpot's answer need not echo idProperty.
    expect(properties).toEqual({ name: 'Acme Inc', domain: 'acme.io', users: '0', pqlkit_last_event_at: timestamp, pqlkit_company_key: 'acme-42' })
    expect(JSON.parse(pqlkit_state).v).toBe(2)
    expect(JSON.parse(pqlkit_contribution)).toMatchObject({ e: [{ k: 'g', m: 'g1', u: 'ada@acme.io' }] })
    expect(association).toEqual({ inputs: [{ from: { id: '77' }, to: { id: '900' } }] })
  })
})

describe('testAuthentication', () => {
  it('accepts a token HubSpot accepts', async () => {
    nock(HUBSPOT).get('/crm/v3/objects/contacts').query({ limit: 1 }).matchHeader('authorization', `Bearer ${settings.accessToken}`).reply(200, { results: [] })
    await expect(testDestination.testAuthentication(settings)).resolves.not.toThrow()
  })

  it('rejects a token HubSpot rejects, without echoing it', async () => {
    nock(HUBSPOT)
      .get('/crm/v3/objects/contacts')
      .query({ limit: 1 })
      .reply(401, { status: 'error', message: 'Authentication credentials not found.', category: 'INVALID_AUTHENTICATION', correlationId: 'x' })
    const error = await testDestination.testAuthentication(settings).catch((e) => e)
    expect(error.message).toContain('HubSpot rejected the access token')
    expect(error.message).not.toContain(settings.accessToken)
  })

  it('names a property the portal has with an incompatible type, before any event', async () => {
    nock.cleanAll()
    nock(HUBSPOT).get('/crm/v3/objects/contacts').query({ limit: 1 }).reply(200, { results: [] })
    const compiled = loadModel(MODEL)
    for (const objectType of ['contacts', 'companies'] as const) {
      const properties = modelProperties(compiled, objectType).map((property) =>
        property.name === 'projects' ? { ...property, type: 'datetime', fieldType: 'date' } : property
      )
      nock(HUBSPOT)
        .get(`/crm/v3/properties/${objectType}/groups`)
        .reply(200, { results: [{ name: 'pqlkit_product_usage' }, { name: 'pqlkit_internals' }] })
        .get(`/crm/v3/properties/${objectType}`)
        .query(true)
        .reply(200, { results: properties })
    }
    const error = await testDestination.testAuthentication(settings).catch((e) => e)
    expect(error.message).toContain('contacts.projects is a datetime property in HubSpot, but pqlkit writes number values to it')
  })

  it('rejects a broken model before saving the settings', async () => {
    const error = await testDestination.testAuthentication({ ...settings, model: '{"version": 2}' }).catch((e) => e)
    expect(error.message).toContain('The PQL model setting is invalid')
    expect(error.message).toContain('version: expected version: 1')
  })
})
