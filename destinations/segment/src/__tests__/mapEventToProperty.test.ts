import nock from 'nock'
import { createTestIntegration, IntegrationError } from '@segment/actions-core'
import { AGGREGATIONS } from '@pqlkit/core'
import destination from '../index'
import mapEventToProperty from '../mapEventToProperty'
import { HUBSPOT } from './hubspot-nock'

const fields = mapEventToProperty.fields

describe('Map Event to Property: the fields RevOps fills in', () => {
  it('describes every field, and every choice says what it does', () => {
    for (const [key, field] of Object.entries(fields)) {
      expect([key, field.description.length > 20]).toEqual([key, true])
    }
    for (const key of ['object', 'aggregation']) {
      for (const choice of fields[key].choices as { value: string; label: string }[]) {
        expect(choice.label).toMatch(/^[A-Z][a-z ]+: .{10,}/)
      }
    }
  })

  it('offers every aggregation of the core, worded as the core words them', () => {
    expect(fields.aggregation.choices).toEqual(Object.entries(AGGREGATIONS).map(([value, label]) => ({ value, label })))
    expect(fields.object.choices).toEqual([expect.objectContaining({ value: 'contact' }), expect.objectContaining({ value: 'company' })])
  })

  it('shows the window only for the aggregations that take one (required for active days), the value only for those that read one', () => {
    expect(fields.window.depends_on).toEqual({
      match: 'any',
      conditions: [{ fieldKey: 'aggregation', operator: 'is', value: ['count', 'sum', 'distinct', 'active_days'] }]
    })
    expect(fields.window.required).toEqual({ conditions: [{ fieldKey: 'aggregation', operator: 'is', value: 'active_days' }] })
    expect(fields.value.depends_on).toEqual({
      match: 'any',
      conditions: [{ fieldKey: 'aggregation', operator: 'is', value: ['sum', 'distinct', 'latest'] }]
    })
    expect(fields.value.default).toEqual({ '@path': '$.properties.value' })
  })

  it('takes the property, record, aggregation and window as literals, so every event of a subscription has one definition', () => {
    for (const key of ['property', 'object', 'aggregation', 'window']) {
      expect(fields[key].disabledInputMethods).toEqual(['variable', 'function', 'enrichment'])
    }
    expect(fields.property).toMatchObject({ dynamic: true, required: true })
  })
})

describe('Map Event to Property: the property dropdown', () => {
  beforeAll(() => nock.disableNetConnect())
  afterAll(() => nock.enableNetConnect())
  afterEach(() => nock.cleanAll())
  const settings = { accessToken: 'pat-na1-dropdown', model: '{}' }

  it("lists the portal's writable properties of the chosen record, by label", async () => {
    nock(HUBSPOT, { reqheaders: { authorization: 'Bearer pat-na1-dropdown' } })
      .get('/crm/v3/properties/companies')
      .reply(200, {
        results: [
          { name: 'seats', label: 'Seats', type: 'number', groupName: 'companyinformation' },
          { name: 'hs_object_id', label: 'Record ID', type: 'number', modificationMetadata: { readOnlyValue: true } },
          { name: 'pqlkit_state', label: 'pqlkit state', type: 'string', hidden: true },
          { name: 'arr', label: 'ARR', type: 'number', groupName: 'pqlkit_product_usage' }
        ]
      })
    const response = await createTestIntegration(destination).testDynamicField('mapEventToProperty', 'property', {
      settings,
      payload: { object: 'company' }
    })
    expect(response).toEqual({
      choices: [
        { label: 'ARR', value: 'arr', description: 'arr: number in pqlkit_product_usage' },
        { label: 'Seats', value: 'seats', description: 'seats: number in companyinformation' }
      ]
    })
  })

  it('says why when HubSpot does not list them', async () => {
    nock(HUBSPOT).get('/crm/v3/properties/contacts').reply(403, { status: 'error', message: 'missing scopes' })
    const response = await createTestIntegration(destination).testDynamicField('mapEventToProperty', 'property', { settings, payload: {} })
    expect(response).toEqual({
      choices: [],
      error: { code: '403', message: 'HubSpot did not list the contacts properties (403): check the access token and its crm.schemas scopes' }
    })
  })
})

describe('Map Event to Property: a mapping the model cannot take', () => {
  const model = JSON.stringify({ version: 1, name: 'x', signals: { plan: { trait: 'plan' } }, scores: [{ property: 'pql_score', rules: [{ when: 'plan == "paying"', points: 10 }] }] })
  const event = { type: 'track' as const, event: 'Plan Changed', messageId: 'm-1', timestamp: new Date().toISOString(), properties: { plan: 'paying' }, context: { traits: { email: 'ada@acme.io' } } }

  it('is refused alone, naming the clash, when its property is a model signal', async () => {
    const error = await createTestIntegration(destination)
      .testAction('mapEventToProperty', {
        event,
        settings: { accessToken: 'pat-na1-clash', model },
        mapping: { property: 'plan', aggregation: 'latest', value: { '@path': '$.properties.plan' } },
        useDefaultMappings: true
      })
      .catch((e) => e)
    expect(error).toBeInstanceOf(IntegrationError)
    expect(error.message).toBe('This mapping clashes with the PQL model: mapping: [0].property: "plan" is already defined by the model\'s signal plan')
  })
})
