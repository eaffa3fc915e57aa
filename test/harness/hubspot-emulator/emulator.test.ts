import { Client } from '@hubspot/api-client'
import { Emulator, startEmulator } from '.'

/**
 * Pins the status codes and bodies of SPEC §8, through raw HTTP and through the official
 * `@hubspot/api-client` (only `basePath` differs from talking to HubSpot).
 */
jest.setTimeout(20_000)

let emulator: Emulator
let client: Client

/** Parsed JSON answers are read field by field in assertions: typed loosely on purpose. */
type Json = any
type Raw = { status: number; headers: Headers; body: Json }

async function call(method: string, path: string, body?: unknown, token: string | null = emulator.accessToken, target = emulator): Promise<Raw> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  const response = await fetch(`${target.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // HTML error pages stay text
  }
  return { status: response.status, headers: response.headers, body: parsed }
}

/** What the official client throws for a non-2xx answer: ApiException { code, body, headers }. */
async function failure(promise: Promise<unknown>): Promise<{ code: number; body: Json }> {
  try {
    await promise
  } catch (error) {
    return error as { code: number; body: Json }
  }
  throw new Error('expected the call to fail')
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const uniqueProperty = (name: string) => ({ name, label: name, type: 'string', fieldType: 'text', groupName: 'contactinformation', hasUniqueValue: true })

beforeAll(async () => {
  emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 10_000 } })
  client = new Client({ accessToken: emulator.accessToken, basePath: emulator.url, numberOfApiCallRetries: 0 })
})
afterAll(() => emulator.stop())
beforeEach(() => {
  emulator.reset()
  emulator.setFaults(undefined)
})

describe('authentication', () => {
  it('answers a missing or wrong bearer token with HubSpot 401 body', async () => {
    for (const token of [null, 'wrong-token']) {
      const answer = await call('GET', '/crm/v3/objects/contacts?limit=1', undefined, token)
      expect(answer.status).toBe(401)
      expect(answer.body).toEqual({
        status: 'error',
        message: expect.stringContaining('Authentication credentials not found'),
        correlationId: expect.stringMatching(UUID),
        category: 'INVALID_AUTHENTICATION'
      })
    }
    const wrong = new Client({ accessToken: 'wrong-token', basePath: emulator.url, numberOfApiCallRetries: 0 })
    const error = await failure(wrong.crm.contacts.basicApi.getPage(1))
    expect(error.code).toBe(401)
    expect(error.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' })
  })

  it('serves the cheap authenticated calls; account info names the portal time zone', async () => {
    expect((await client.crm.contacts.basicApi.getPage(1)).results).toEqual([])
    const details = await call('GET', '/account-info/v3/details')
    expect(details).toMatchObject({ status: 200, body: { portalId: 123456, timeZone: 'America/New_York' } })
    expect(['-05:00', '-04:00']).toContain(details.body.utcOffset)
    expect(details.body.utcOffsetMilliseconds).toBe(Number(details.body.utcOffset.slice(0, 3)) * 3_600_000)
  })

  it('answers unknown routes 404 with an error body', async () => {
    const answer = await call('GET', '/crm/v3/nothing-here')
    expect(answer.status).toBe(404)
    expect(answer.body).toMatchObject({ status: 'error', correlationId: expect.stringMatching(UUID) })
  })
})

describe('properties and groups', () => {
  it('creates a property (201) and answers 409 when it exists', async () => {
    const created = await client.crm.properties.coreApi.create('contacts', {
      name: 'pql_score',
      label: 'PQL score',
      type: 'number' as never,
      fieldType: 'number' as never,
      groupName: 'contactinformation'
    })
    expect(created).toMatchObject({ name: 'pql_score', type: 'number', fieldType: 'number', groupName: 'contactinformation' })
    const again = await failure(
      client.crm.properties.coreApi.create('contacts', { name: 'pql_score', label: 'PQL score', type: 'number' as never, fieldType: 'number' as never, groupName: 'contactinformation' })
    )
    expect(again.code).toBe(409)
    expect(again.body).toMatchObject({ status: 'error', category: 'OBJECT_ALREADY_EXISTS', message: "Property named 'pql_score' already exists.", correlationId: expect.stringMatching(UUID) })
    expect((await client.crm.properties.coreApi.getByName('contacts', 'pql_score')).label).toBe('PQL score')
    expect((await client.crm.properties.coreApi.getAll('contacts')).results.map((p) => p.name)).toEqual(
      expect.arrayContaining(['email', 'firstname', 'lastname', 'jobtitle', 'lifecyclestage', 'hubspot_owner_id', 'company', 'hs_object_id', 'createdate', 'lastmodifieddate', 'pql_score'])
    )
    expect((await call('GET', '/crm/v3/properties/companies')).body.results.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['name', 'domain', 'hs_object_id', 'createdate', 'lastmodifieddate'])
    )
  })

  it('refuses invalid type/fieldType pairs, enumerations without options and unknown groups (400)', async () => {
    const base = { name: 'x_prop', label: 'X', groupName: 'contactinformation' }
    for (const bad of [
      { ...base, type: 'number', fieldType: 'text' },
      { ...base, type: 'bool', fieldType: 'select' },
      { ...base, type: 'enumeration', fieldType: 'select' },
      { ...base, type: 'string', fieldType: 'text', groupName: 'no_such_group' },
      { ...base, type: 'string', fieldType: 'text', name: 'Bad Name' }
    ]) {
      const answer = await call('POST', '/crm/v3/properties/contacts', bad)
      expect([JSON.stringify(bad), answer.status, answer.body.category]).toEqual([JSON.stringify(bad), 400, 'VALIDATION_ERROR'])
    }
    for (const [type, fieldType] of [['number', 'number'], ['bool', 'booleancheckbox'], ['datetime', 'date'], ['string', 'textarea']]) {
      expect((await call('POST', '/crm/v3/properties/contacts', { ...base, name: `p_${type}`, type, fieldType })).status).toBe(201)
    }
  })

  it('creates a group (201) and answers 409 when it exists', async () => {
    const group = { name: 'pqlkit_product_usage', label: 'Product usage (pqlkit)', displayOrder: -1 }
    expect(await client.crm.properties.groupsApi.create('contacts', group)).toMatchObject({ name: group.name, label: group.label, archived: false })
    const again = await failure(client.crm.properties.groupsApi.create('contacts', group))
    expect(again.code).toBe(409)
    expect(again.body).toMatchObject({ status: 'error', category: 'OBJECT_ALREADY_EXISTS' })
    expect((await client.crm.properties.groupsApi.getAll('contacts')).results.map((g) => g.name)).toEqual(['contactinformation', 'pqlkit_product_usage'])
  })

  it('batch-creates properties: 201, then 207 naming the ones that exist', async () => {
    const inputs = [
      { name: 'a_prop', label: 'A', type: 'string', fieldType: 'text', groupName: 'contactinformation' },
      { name: 'b_prop', label: 'B', type: 'number', fieldType: 'number', groupName: 'contactinformation' }
    ]
    const first = await client.crm.properties.batchApi.createWithHttpInfo('contacts', { inputs: inputs as never })
    expect(first.httpStatusCode).toBe(201)
    const second = await client.crm.properties.batchApi.createWithHttpInfo('contacts', { inputs: [...inputs, { ...inputs[0], name: 'c_prop' }] as never })
    expect(second.httpStatusCode).toBe(207)
    const body = second.data as unknown as { results: { name: string }[]; errors: { category: string; context: Record<string, string[]> }[] }
    expect(body.results.map((p) => p.name)).toEqual(['c_prop'])
    expect(body.errors.map((e) => [e.category, e.context.name])).toEqual([
      ['OBJECT_ALREADY_EXISTS', ['a_prop']],
      ['OBJECT_ALREADY_EXISTS', ['b_prop']]
    ])
  })
})

describe('batch upsert, update and read', () => {
  it('upserts by email: creates, then updates the same record for a differently-cased email', async () => {
    const first = await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'Ada@Acme.io', properties: { firstname: 'Ada' } }] })
    expect(first.status).toBe('COMPLETE')
    expect(first.results).toHaveLength(1)
    expect(first.results[0]).toMatchObject({ _new: true, properties: { firstname: 'Ada' } })
    // HubSpot's answer schema promises the record's properties, not an echo of idProperty.
    expect(first.results[0].properties.email).toBeUndefined()
    expect(first.results[0].id).toMatch(/^\d+$/)
    expect(first.results[0].createdAt).toBeInstanceOf(Date)
    const second = await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'ADA@acme.IO', properties: { email: 'ADA@acme.IO', lastname: 'Lovelace' } }] })
    expect(second.results[0]).toMatchObject({ id: first.results[0].id, _new: false, properties: { email: 'ada@acme.io', lastname: 'Lovelace' } })
    const contacts = emulator.dump().contacts
    expect(contacts).toHaveLength(1)
    expect(contacts[0].properties).toMatchObject({ email: 'ada@acme.io', firstname: 'Ada', lastname: 'Lovelace', hs_object_id: first.results[0].id })
  })

  it('batch-creates records (201); an email another record holds is a 409', async () => {
    const created = await call('POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { email: 'ada@acme.io' } }, { properties: { email: 'bob@acme.io' } }]
    })
    expect(created.status).toBe(201)
    expect((created.body as { results: unknown[] }).results).toHaveLength(2)
    const again = await call('POST', '/crm/v3/objects/contacts/batch/create', { inputs: [{ properties: { email: 'ADA@acme.io' } }] })
    expect(again.status).toBe(409)
    expect(again.body).toMatchObject({ status: 'error', category: 'CONFLICT' })
    expect(emulator.dump().contacts).toHaveLength(2)
  })

  it('takes custom behavioral events (204, no body) and refuses one without a contact (400)', async () => {
    const sent = await call('POST', '/events/v3/send', { eventName: 'pe123456_project_created', email: 'ada@acme.io', properties: {} })
    expect(sent.status).toBe(204)
    expect(sent.body).toBe('')
    const anonymous = await call('POST', '/events/v3/send', { eventName: 'pe123456_project_created' })
    expect(anonymous.status).toBe(400)
    expect(anonymous.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' })
    expect(emulator.dump().events).toEqual([{ eventName: 'pe123456_project_created', email: 'ada@acme.io', properties: {} }])
  })

  it('upserts by a unique custom property, and refuses a property that is not unique (400)', async () => {
    await call('POST', '/crm/v3/properties/contacts', uniqueProperty('pqlkit_user_id'))
    const raw = await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs: [{ idProperty: 'pqlkit_user_id', id: 'u-1', properties: { firstname: 'Uma' } }] })
    expect(raw.status).toBe(200)
    expect(raw.body).toMatchObject({ status: 'COMPLETE', results: [{ new: true, archived: false, properties: { firstname: 'Uma' } }] })
    expect(raw.body.results[0].properties.pqlkit_user_id).toBeUndefined()
    expect(emulator.dump().contacts[0].properties.pqlkit_user_id).toBe('u-1')
    expect(raw.body.startedAt).toEqual(expect.any(String))
    expect(raw.body.completedAt).toEqual(expect.any(String))
    const update = await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'pqlkit_user_id', id: 'u-1', properties: { email: 'uma@x.io' } }] })
    expect(update.results[0]).toMatchObject({ id: raw.body.results[0].id, _new: false })

    const notUnique = await failure(client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'firstname', id: 'Uma', properties: {} }] }))
    expect(notUnique.code).toBe(400)
    expect(notUnique.body).toMatchObject({
      status: 'error',
      category: 'VALIDATION_ERROR',
      message: 'Unable to perform update/upsert by non-unique 0-1 property firstname in portal ID 123456'
    })
  })

  it('refuses more than 100 inputs (400) for upsert and read', async () => {
    const inputs = Array.from({ length: 101 }, (_, i) => ({ idProperty: 'email', id: `u${i}@x.io`, properties: {} }))
    const upsert = await failure(client.crm.contacts.batchApi.upsert({ inputs }))
    expect(upsert.code).toBe(400)
    expect(upsert.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR', message: expect.stringContaining('101') })
    const read = await call('POST', '/crm/v3/objects/contacts/batch/read', { idProperty: 'email', properties: [], inputs: inputs.map(({ id }) => ({ id })) })
    expect(read.status).toBe(400)
    expect(emulator.dump().contacts).toEqual([])
  })

  it('refuses a wrong-typed number, bool or enumeration value for the whole batch (400 naming the property)', async () => {
    await call('POST', '/crm/v3/properties/contacts', { name: 'projects', label: 'Projects', type: 'number', fieldType: 'number', groupName: 'contactinformation' })
    await call('POST', '/crm/v3/properties/contacts', { name: 'activated', label: 'Activated', type: 'bool', fieldType: 'booleancheckbox', groupName: 'contactinformation' })
    await call('POST', '/crm/v3/properties/contacts', {
      name: 'tier', label: 'Tier', type: 'enumeration', fieldType: 'select', groupName: 'contactinformation',
      options: [{ label: 'Cold', value: 'Cold', displayOrder: 0, hidden: false }, { label: 'Hot', value: 'Hot', displayOrder: 1, hidden: false }]
    })
    const cases: [Record<string, string>, string, string][] = [
      [{ projects: 'three' }, 'projects', 'three'],
      [{ activated: 'yes' }, 'activated', 'yes'],
      [{ tier: 'Lukewarm' }, 'tier', 'Lukewarm'],
      [{ projects: ' 3' }, 'projects', 'LEADING_TRAILING_WHITESPACE'],
      [{ no_such_property: 'x' }, 'no_such_property', 'no_such_property'],
      [{ email: 'not-an-email' }, 'email', 'not-an-email']
    ]
    for (const [properties, name, value] of cases) {
      const inputs = [
        { idProperty: 'email', id: 'ok@acme.io', properties: { projects: '3', activated: 'true', tier: 'Hot' } },
        { idProperty: 'email', id: 'ada@acme.io', properties }
      ]
      if (name === 'email') inputs[1] = { idProperty: 'email', id: value, properties: {} }
      const raw = await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs })
      expect([name, raw.status]).toEqual([name, 400])
      expect(raw.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR', correlationId: expect.stringMatching(UUID) })
      expect(raw.body.message).toMatch(/^Property values were not valid: \[/)
      expect(raw.body.message).toContain(`"name":"${name}"`)
      expect(raw.body.message).toContain(value)
      expect(raw.body.context).toEqual({ ids: [name === 'email' ? value : 'ada@acme.io'] })
      const viaClient = await failure(client.crm.contacts.batchApi.upsert({ inputs }))
      expect(viaClient.code).toBe(400)
    }
    // Nothing of a refused batch is written, not even its valid inputs.
    expect(emulator.dump().contacts).toEqual([])
    const fine = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [{ idProperty: 'email', id: 'ok@acme.io', properties: { projects: '3.5', activated: 'TRUE', tier: 'Hot', createdate: '1773835200000', firstname: '' } }]
    })
    expect(fine.status).toBe(200)
    expect(fine.body.results[0].properties).toMatchObject({ projects: '3.5', activated: 'true', tier: 'Hot', createdate: '2026-03-18T12:00:00.000Z', firstname: '' })
  })

  it('answers 409 when a unique value already belongs to another record', async () => {
    await call('POST', '/crm/v3/properties/contacts', uniqueProperty('pqlkit_user_id'))
    await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs: [{ idProperty: 'email', id: 'ada@acme.io', properties: { pqlkit_user_id: 'u-1' } }] })
    const clash = await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs: [{ idProperty: 'email', id: 'bob@acme.io', properties: { pqlkit_user_id: 'u-1' } }] })
    expect(clash.status).toBe(409)
    expect(clash.body).toMatchObject({ status: 'error', category: 'CONFLICT', context: { ids: ['bob@acme.io'] } })
    const duplicate = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [{ idProperty: 'email', id: 'cy@acme.io', properties: {} }, { idProperty: 'email', id: 'CY@acme.io', properties: {} }]
    })
    expect(duplicate.status).toBe(400)
    expect(duplicate.body.message).toContain('Duplicate IDs found in batch input')
    expect(emulator.dump().contacts.map((c) => c.properties.email)).toEqual(['ada@acme.io'])
  })

  it('keeps property history: batch read with propertiesWithHistory gives each version newest first, timestamped, at most 50 inputs', async () => {
    for (const firstname of ['Ada', 'Ada', 'Augusta', 'Ada']) {
      await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'ada@acme.io', properties: { firstname } }] })
    }
    const read = await client.crm.contacts.batchApi.read(
      { idProperty: 'email', inputs: [{ id: 'ada@acme.io' }], properties: ['firstname'], propertiesWithHistory: ['firstname', 'jobtitle', 'no_such_property'] },
      false
    )
    const history = read.results[0].propertiesWithHistory!
    // A write of the value already held adds no version; a property never set has none; an unknown one is left out.
    expect(Object.keys(history).sort()).toEqual(['firstname', 'jobtitle'])
    expect(history.firstname.map((version) => version.value)).toEqual(['Ada', 'Augusta', 'Ada'])
    expect(history.jobtitle).toEqual([])
    const stamps = history.firstname.map((version) => Date.parse(version.timestamp.toISOString()))
    expect([...stamps].sort((x, y) => y - x)).toEqual(stamps)
    expect(history.firstname[0]).toMatchObject({ sourceType: expect.any(String) })

    const tooMany = await call('POST', '/crm/v3/objects/contacts/batch/read', {
      inputs: Array.from({ length: 51 }, (_, i) => ({ id: `p${i}@acme.io` })),
      idProperty: 'email',
      properties: ['email'],
      propertiesWithHistory: ['email']
    })
    expect(tooMany.status).toBe(400)
    expect(tooMany.body).toMatchObject({ category: 'VALIDATION_ERROR', message: expect.stringContaining('for property histories is 50') })
    const without = await call('POST', '/crm/v3/objects/contacts/batch/read', {
      inputs: Array.from({ length: 51 }, (_, i) => ({ id: `p${i}@acme.io` })),
      idProperty: 'email',
      properties: ['email'],
      propertiesWithHistory: []
    })
    expect(without.status).toBe(207)
  })

  it('keeps at most historyLimit versions of a property, the oldest forgotten first', async () => {
    const small = await startEmulator({ historyLimit: 3 })
    try {
      const smallClient = new Client({ accessToken: small.accessToken, basePath: small.url, numberOfApiCallRetries: 0 })
      for (let i = 1; i <= 5; i++) await smallClient.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'ada@acme.io', properties: { firstname: `v${i}` } }] })
      const read = await smallClient.crm.contacts.batchApi.read({ idProperty: 'email', inputs: [{ id: 'ada@acme.io' }], properties: [], propertiesWithHistory: ['firstname'] }, false)
      expect(read.results[0].propertiesWithHistory!.firstname.map((version) => version.value)).toEqual(['v5', 'v4', 'v3'])
    } finally {
      await small.stop()
    }
  })

  it('reads by email; unknown ids give a 207 with OBJECT_NOT_FOUND naming them; unset properties are null', async () => {
    await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'ada@acme.io', properties: { firstname: 'Ada' } }] })
    const all = await client.crm.contacts.batchApi.readWithHttpInfo(
      { idProperty: 'email', inputs: [{ id: 'ADA@acme.io' }], properties: ['email', 'firstname', 'jobtitle'], propertiesWithHistory: [] },
      false
    )
    expect(all.httpStatusCode).toBe(200)
    expect(all.data.results[0].properties).toEqual({
      email: 'ada@acme.io',
      firstname: 'Ada',
      jobtitle: null,
      hs_object_id: all.data.results[0].id,
      createdate: expect.any(String),
      lastmodifieddate: expect.any(String)
    })
    const partial = await client.crm.contacts.batchApi.readWithHttpInfo(
      { idProperty: 'email', inputs: [{ id: 'ada@acme.io' }, { id: 'ghost@acme.io' }], properties: ['email'], propertiesWithHistory: [] },
      false
    )
    expect(partial.httpStatusCode).toBe(207)
    const data = partial.data as unknown as { status: string; results: unknown[]; numErrors: number; errors: unknown[] }
    expect(data.status).toBe('COMPLETE')
    expect(data.results).toHaveLength(1)
    expect(data.numErrors).toBe(1)
    expect(data.errors).toEqual([
      expect.objectContaining({ status: 'error', category: 'OBJECT_NOT_FOUND', message: expect.stringContaining('CONTACT'), context: { ids: ['ghost@acme.io'] } })
    ])
  })

  it('updates by record id; an unknown id is a 207 error', async () => {
    const { results } = await client.crm.companies.batchApi.upsert({ inputs: [] })
    expect(results).toEqual([])
    await call('POST', '/crm/v3/properties/companies', { name: 'pqlkit_company_key', label: 'Key', type: 'string', fieldType: 'text', groupName: 'companyinformation', hasUniqueValue: true })
    const created = await client.crm.companies.batchApi.upsert({ inputs: [{ idProperty: 'pqlkit_company_key', id: 'acme', properties: { name: 'Acme' } }] })
    const id = created.results[0].id
    const updated = await client.crm.companies.batchApi.updateWithHttpInfo({ inputs: [{ id, properties: { domain: 'acme.io' } }, { id: '999999', properties: { domain: 'x.io' } }] })
    expect(updated.httpStatusCode).toBe(207)
    expect((updated.data as unknown as { errors: { context: unknown }[] }).errors[0].context).toEqual({ ids: ['999999'] })
    expect(emulator.dump().companies[0].properties).toMatchObject({ name: 'Acme', domain: 'acme.io', pqlkit_company_key: 'acme' })
  })
})

describe('associations, tasks and search', () => {
  async function contactAndCompany(): Promise<{ contactId: string; companyId: string }> {
    await call('POST', '/crm/v3/properties/companies', { name: 'key', label: 'Key', type: 'string', fieldType: 'text', groupName: 'companyinformation', hasUniqueValue: true })
    const contact = await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'ada@acme.io', properties: {} }] })
    const company = await client.crm.companies.batchApi.upsert({ inputs: [{ idProperty: 'key', id: 'acme', properties: {} }] })
    return { contactId: contact.results[0].id, companyId: company.results[0].id }
  }

  it('associates contacts to companies (v4 default, 200); unknown ids give a 207', async () => {
    const { contactId, companyId } = await contactAndCompany()
    const answer = await client.crm.associations.v4.batchApi.createDefault('contacts', 'companies', { inputs: [{ _from: { id: contactId }, to: { id: companyId } }] })
    expect(answer.status).toBe('COMPLETE')
    expect(answer.results).toEqual([
      expect.objectContaining({ _from: { id: contactId }, to: { id: companyId }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 } })
    ])
    expect(emulator.dump().associations).toEqual([expect.objectContaining({ from: contactId, to: companyId, fromObjectType: 'contacts', toObjectType: 'companies' })])
    const raw = await call('POST', '/crm/v4/associations/contacts/companies/batch/associate/default', {
      inputs: [{ from: { id: contactId }, to: { id: companyId } }, { from: { id: '424242' }, to: { id: companyId } }]
    })
    expect(raw.status).toBe(207)
    expect(raw.body).toMatchObject({ numErrors: 1, errors: [{ status: 'error', context: { ids: ['424242'] } }], results: [{ from: { id: contactId } }] })
    // The official client (13.5.0) only knows a 200 for this endpoint: it throws the 207,
    // with the parsed body, as an ApiException.
    const viaClient = await failure(
      client.crm.associations.v4.batchApi.createDefault('contacts', 'companies', { inputs: [{ _from: { id: '424242' }, to: { id: companyId } }] })
    )
    expect(viaClient.code).toBe(207)
    expect(viaClient.body.errors[0].context).toEqual({ ids: ['424242'], objectType: ['contacts'] })
    expect(emulator.dump().associations).toHaveLength(1)
  })

  it('creates a task associated with a contact (201)', async () => {
    const { contactId } = await contactAndCompany()
    const task = await client.crm.objects.tasks.basicApi.createWithHttpInfo({
      properties: {
        hs_task_subject: 'PQL handoff: Ada',
        hs_task_body: 'Score 90',
        hs_timestamp: '2026-03-20T12:00:00.000Z',
        hs_task_priority: 'HIGH',
        hubspot_owner_id: '42',
        hs_task_status: 'NOT_STARTED'
      },
      associations: [{ to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: 204 }] }]
    })
    expect(task.httpStatusCode).toBe(201)
    expect(task.data).toMatchObject({ id: expect.stringMatching(/^\d+$/), archived: false, properties: { hs_task_subject: 'PQL handoff: Ada', hs_task_priority: 'HIGH' } })
    expect(emulator.dump().tasks).toEqual([
      expect.objectContaining({ id: task.data.id, associations: [{ toObjectType: 'contacts', toId: contactId, associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 204 }] })
    ])
    const noTime = await call('POST', '/crm/v3/objects/tasks', { properties: { hs_task_subject: 'x' } })
    expect(noTime).toMatchObject({ status: 400, body: { category: 'VALIDATION_ERROR' } })
    const badPriority = await call('POST', '/crm/v3/objects/tasks', { properties: { hs_timestamp: '0', hs_task_priority: 'URGENT' } })
    expect(badPriority.status).toBe(400)
    const missingContact = await call('POST', '/crm/v3/objects/tasks', {
      properties: { hs_timestamp: '0' },
      associations: [{ to: { id: '777777' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 204 }] }]
    })
    expect(missingContact.status).toBe(400)
    expect(emulator.dump().tasks).toHaveLength(1)
  })

  it("lists a contact's associated tasks (v4, 500 a page, `after` only while there are more) and batch-reads them", async () => {
    const { contactId, companyId } = await contactAndCompany()
    const task = (body: string, to: { id: string; typeId: number }[]) =>
      call('POST', '/crm/v3/objects/tasks', {
        properties: { hs_timestamp: '2026-03-20T12:00:00.000Z', hs_task_body: body },
        associations: to.map(({ id, typeId }) => ({ to: { id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }] }))
      })
    const first = await task('first <p>pqlkit hand-off a@0:1</p>', [{ id: contactId, typeId: 204 }])
    await task('the company only', [{ id: companyId, typeId: 192 }])
    const second = await task('second', [{ id: contactId, typeId: 204 }, { id: companyId, typeId: 192 }])
    const all = await call('GET', `/crm/v4/objects/contacts/${contactId}/associations/tasks`)
    expect(all).toMatchObject({ status: 200 })
    expect(all.body).toEqual({
      results: [first.body.id, second.body.id].map((id) => ({ toObjectId: Number(id), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 203, label: null }] }))
    })
    const page = await call('GET', `/crm/v4/objects/contacts/${contactId}/associations/tasks?limit=1`)
    expect(page.body.results.map((result: Json) => String(result.toObjectId))).toEqual([first.body.id])
    const next = await call('GET', `/crm/v4/objects/contacts/${contactId}/associations/tasks?limit=1&after=${page.body.paging.next.after}`)
    expect(next.body).toEqual({ results: [expect.objectContaining({ toObjectId: Number(second.body.id) })] })
    const back = await call('GET', `/crm/v4/objects/tasks/${second.body.id}/associations/contacts`)
    expect(back.body.results).toEqual([{ toObjectId: Number(contactId), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 204, label: null }] }])
    expect((await call('GET', `/crm/v4/objects/contacts/424242/associations/tasks`)).body).toEqual({ results: [] })
    expect((await call('GET', `/crm/v4/objects/contacts/${contactId}/associations/tasks?limit=501`)).status).toBe(400)
    const read = await client.crm.objects.tasks.batchApi.read({ inputs: [{ id: first.body.id }, { id: second.body.id }], properties: ['hs_task_body'], propertiesWithHistory: [] })
    expect(read.results.map((record) => record.properties.hs_task_body)).toEqual(['first <p>pqlkit hand-off a@0:1</p>', 'second'])
  })

  it('holds the answer to the next request to an endpoint: the task exists before the answer goes, or the connection is cut', async () => {
    const { contactId } = await contactAndCompany()
    const held = emulator.holdNext('POST /crm/v3/objects/tasks')
    const answer = call('POST', '/crm/v3/objects/tasks', {
      properties: { hs_timestamp: '2026-03-20T12:00:00.000Z' },
      associations: [{ to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 204 }] }]
    })
    await held.reached
    expect(emulator.dump().tasks).toHaveLength(1)
    held.release()
    expect((await answer).status).toBe(201)
    const cut = emulator.holdNext('POST /crm/v3/objects/tasks')
    const unanswered = call('POST', '/crm/v3/objects/tasks', { properties: { hs_timestamp: '2026-03-20T12:00:00.000Z' } })
    await cut.reached
    cut.drop()
    await expect(unanswered).rejects.toThrow()
    expect(emulator.dump().tasks).toHaveLength(2)
  })

  it('searches with GT on a datetime, sorts and pages', async () => {
    await call('POST', '/crm/v3/properties/contacts', { name: 'last_seen', label: 'Last seen', type: 'datetime', fieldType: 'date', groupName: 'contactinformation' })
    const day = 86_400_000
    const start = Date.parse('2026-03-01T00:00:00.000Z')
    await client.crm.contacts.batchApi.upsert({
      inputs: Array.from({ length: 7 }, (_, i) => ({ idProperty: 'email', id: `u${i}@x.io`, properties: { last_seen: new Date(start + i * day).toISOString() } }))
    })
    await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'never@x.io', properties: {} }] })
    const request = {
      filterGroups: [{ filters: [{ propertyName: 'last_seen', operator: 'GT' as never, value: String(start + 2 * day) }] }],
      properties: ['email', 'last_seen'],
      sorts: ['-last_seen'],
      limit: 2
    }
    const first = await client.crm.contacts.searchApi.doSearch(request)
    expect(first.total).toBe(4)
    expect(first.results.map((r) => r.properties.email)).toEqual(['u6@x.io', 'u5@x.io'])
    expect(first.paging?.next?.after).toBe('2')
    const second = await client.crm.contacts.searchApi.doSearch({ ...request, after: first.paging!.next!.after })
    expect(second.results.map((r) => r.properties.email)).toEqual(['u4@x.io', 'u3@x.io'])
    expect(second.paging).toBeUndefined()
    // ISO values, GTE/LTE, HAS_PROPERTY and OR-ed filter groups.
    const iso = await client.crm.contacts.searchApi.doSearch({
      filterGroups: [
        { filters: [{ propertyName: 'last_seen', operator: 'LTE' as never, value: '2026-03-01T00:00:00Z' }] },
        { filters: [{ propertyName: 'last_seen', operator: 'NOT_HAS_PROPERTY' as never }] }
      ],
      properties: ['email'],
      limit: 10
    })
    expect(iso.results.map((r) => r.properties.email).sort()).toEqual(['never@x.io', 'u0@x.io'])
    // The sweep's keyset paging: GTE epoch ms on a datetime, GT on hs_object_id, sorted by id.
    const all = (await client.crm.contacts.searchApi.doSearch({ filterGroups: [], properties: ['email'], sorts: ['hs_object_id'], limit: 100 })).results
    const keyset = await client.crm.contacts.searchApi.doSearch({
      filterGroups: [{ filters: [
        { propertyName: 'last_seen', operator: 'GTE' as never, value: String(start + 5 * day) },
        { propertyName: 'hs_object_id', operator: 'GT' as never, value: all[5].id }
      ] }],
      properties: ['email'],
      sorts: ['hs_object_id'],
      limit: 100
    })
    expect(keyset.results.map((r) => r.properties.email)).toEqual(['u6@x.io'])
    emulator.reset() // six searches so far: the next one would hit search's 5 per second
    const tooMany = await call('POST', '/crm/v3/objects/contacts/search', { limit: 201 })
    expect(tooMany.status).toBe(400)
  })

  it('limits search to 5 requests per second (429 beyond)', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await call('POST', '/crm/v3/objects/contacts/search', { limit: 1 })).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
    const limited = await call('POST', '/crm/v3/objects/contacts/search', { limit: 1 })
    expect(limited.body).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', message: 'You have reached your secondly limit.' })
  })
})

describe('rate limits', () => {
  it('answers a DAILY 429 once the day is used up, until midnight in the portal time zone', async () => {
    // 23:00 in Kolkata is 17:30 UTC: the portal's day ends half an hour before 18:00 UTC.
    let now = Date.parse('2026-03-01T17:00:00Z')
    const portal = await startEmulator({ dailyLimit: 2, timeZone: 'Asia/Kolkata', now: () => now })
    try {
      const get = () => call('GET', '/crm/v3/objects/contacts?limit=1', undefined, portal.accessToken, portal)
      const answers = [await get(), await get(), await get()]
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429])
      expect(answers.map((a) => a.headers.get('x-hubspot-ratelimit-daily-remaining'))).toEqual(['1', '0', '0'])
      expect(answers[2].body).toEqual({
        status: 'error',
        message: 'You have reached your daily limit.',
        errorType: 'RATE_LIMIT',
        correlationId: expect.stringMatching(UUID),
        policyName: 'DAILY',
        groupName: expect.any(String)
      })
      now = Date.parse('2026-03-01T18:29:59Z')
      expect((await get()).status).toBe(429)
      now = Date.parse('2026-03-01T18:30:00Z')
      expect((await get()).status).toBe(200)
    } finally {
      await portal.stop()
    }
  })

  it('answers the 6th request in the window with the TEN_SECONDLY_ROLLING 429, then recovers after the window', async () => {
    const small = await startEmulator({ rateLimit: { max: 5, intervalMs: 1_000 } })
    try {
      const answers: Raw[] = []
      for (let i = 0; i < 6; i++) answers.push(await call('GET', '/crm/v3/objects/contacts?limit=1', undefined, small.accessToken, small))
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429])
      expect(answers.map((a) => a.headers.get('x-hubspot-ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0', '0'])
      const limited = answers[5]
      expect(limited.headers.get('x-hubspot-ratelimit-max')).toBe('5')
      expect(limited.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('1000')
      expect(limited.headers.get('x-hubspot-ratelimit-daily')).toEqual(expect.stringMatching(/^\d+$/))
      expect(limited.body).toEqual({
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        correlationId: expect.stringMatching(UUID),
        policyName: 'TEN_SECONDLY_ROLLING',
        groupName: expect.any(String)
      })
      const smallClient = new Client({ accessToken: small.accessToken, basePath: small.url, numberOfApiCallRetries: 0 })
      const viaClient = await failure(smallClient.crm.contacts.basicApi.getPage(1))
      expect(viaClient.code).toBe(429)
      expect(viaClient.body.policyName).toBe('TEN_SECONDLY_ROLLING')
      await new Promise((resolve) => setTimeout(resolve, 1_050))
      const after = await call('GET', '/crm/v3/objects/contacts?limit=1', undefined, small.accessToken, small)
      expect(after.status).toBe(200)
      expect(after.headers.get('x-hubspot-ratelimit-remaining')).toBe('4')
      expect(small.stats().status).toEqual({ '200': 6, '429': 2 })
    } finally {
      await small.stop()
    }
  })
})

describe('fault injection', () => {
  /** Statuses of a fixed request sequence ('drop' when the socket was destroyed). */
  async function run(n: number): Promise<string[]> {
    const seen: string[] = []
    for (let i = 0; i < n; i++) {
      try {
        seen.push(String((await call('POST', '/crm/v3/objects/contacts/batch/read', { inputs: [] })).status))
      } catch {
        seen.push('drop')
      }
    }
    return seen
  }

  it('a fixed seed gives the same faults twice; another seed other faults', async () => {
    const faults = { seed: 42, rate429: 0.2, rate5xx: 0.2, dropRate: 0.1 }
    emulator.setFaults(faults)
    const first = await run(40)
    emulator.setFaults(faults)
    const second = await run(40)
    expect(second).toEqual(first)
    expect(new Set(first)).toEqual(new Set(['200', '429', 'drop', ...first.filter((s) => /^50[234]$/.test(s))]))
    expect(first.some((s) => /^50[234]$/.test(s))).toBe(true)
    emulator.setFaults({ ...faults, seed: 43 })
    expect(await run(40)).not.toEqual(first)
    expect(emulator.stats().status.dropped).toBeGreaterThan(0)
  })

  it('injected 429s look like real ones; 5xx come as HTML or JSON', async () => {
    emulator.setFaults({ seed: 1, rate429: 1 })
    const limited = await call('GET', '/crm/v3/objects/contacts?limit=1')
    expect(limited.status).toBe(429)
    expect(limited.body).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' })
    expect(limited.headers.get('x-hubspot-ratelimit-max')).toBe('10000')
    expect(limited.headers.get('x-hubspot-ratelimit-remaining')).toBe('0')
    emulator.setFaults({ seed: 1, rate5xx: 1 })
    const kinds = new Set<string>()
    for (let i = 0; i < 12; i++) {
      const answer = await call('GET', '/crm/v3/objects/contacts?limit=1')
      expect([502, 503, 504]).toContain(answer.status)
      kinds.add(typeof answer.body === 'string' ? 'html' : answer.body.category)
    }
    expect(kinds).toEqual(new Set(['html', 'INTERNAL_ERROR']))
  })

  it('a dropped connection makes the official client reject', async () => {
    emulator.setFaults({ seed: 1, dropRate: 1 })
    await expect(client.crm.contacts.basicApi.getPage(1)).rejects.toMatchObject({ code: 'ECONNRESET' })
    emulator.setFaults(undefined)
    await expect(client.crm.contacts.basicApi.getPage(1)).resolves.toMatchObject({ results: [] })
  })

  it('partial failures give a 207 naming the failed inputs by their ids (the emails as sent); only the others are written', async () => {
    emulator.setFaults({ seed: 5, partialRate: 0.5 })
    const inputs = Array.from({ length: 10 }, (_, i) => ({ idProperty: 'email', id: `User${i}@X.io`, properties: { firstname: `U${i}` } }))
    const answer = await client.crm.contacts.batchApi.upsertWithHttpInfo({ inputs })
    expect(answer.httpStatusCode).toBe(207)
    const data = answer.data as unknown as { results: { properties: { email: string } }[]; errors: { category: string; context: { ids: string[] } }[] }
    const failed = data.errors.map((e) => e.context.ids[0])
    expect(failed.length).toBeGreaterThan(0)
    expect(data.results.length + failed.length).toBe(10)
    expect(failed.every((id) => inputs.some((input) => input.id === id))).toBe(true)
    expect(emulator.dump().contacts.map((c) => c.properties.email).sort()).toEqual(
      inputs.filter((input) => !failed.includes(input.id)).map((input) => input.id.toLowerCase()).sort()
    )
    emulator.reset()
    const again = await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs })
    expect(again.body.errors.map((e: { context: { ids: string[] } }) => e.context.ids[0])).toEqual(failed)
  })
})

describe('dump, stats, reset and the control endpoints', () => {
  it('dump() reflects writes; reset() forgets them', async () => {
    await client.crm.properties.groupsApi.create('contacts', { name: 'pqlkit_internals', label: 'pqlkit internals', displayOrder: -1 })
    await client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: 'email', id: 'ada@acme.io', properties: { firstname: 'Ada' } }] })
    const dump = emulator.dump()
    expect(dump.contacts).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        properties: expect.objectContaining({ email: 'ada@acme.io', firstname: 'Ada' }),
        createdAt: expect.any(String),
        updatedAt: expect.any(String)
      }
    ])
    expect(dump.groups).toEqual(expect.arrayContaining([expect.objectContaining({ objectType: 'contacts', name: 'pqlkit_internals' })]))
    expect(dump.properties).toEqual(expect.arrayContaining([expect.objectContaining({ objectType: 'contacts', name: 'email', type: 'string' })]))
    expect(Object.keys(dump).sort()).toEqual(['associations', 'companies', 'contacts', 'events', 'groups', 'properties', 'tasks'])
    expect(emulator.stats()).toEqual({
      requests: 2,
      byEndpoint: { 'POST /crm/v3/properties/contacts/groups': 1, 'POST /crm/v3/objects/contacts/batch/upsert': 1 },
      status: { '201': 1, '200': 1 }
    })
    const overHttp = await call('GET', '/__emulator/dump', undefined, null)
    expect(overHttp.body.contacts).toEqual(dump.contacts)
    expect((await call('POST', '/__emulator/reset', undefined, null)).status).toBe(200)
    expect(emulator.dump().contacts).toEqual([])
    expect(emulator.dump().groups.map((g) => g.name)).toEqual(['contactinformation', 'companyinformation', 'taskinformation'])
    expect(emulator.stats().requests).toBe(0)
  })
})
