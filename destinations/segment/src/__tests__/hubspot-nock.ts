import nock from 'nock'

export const HUBSPOT = 'https://api.hubapi.com'

/** A portal where pqlkit's groups and the model's properties already exist (bootstrap only reads). */
export function bootstrapped(properties: { contacts: string[]; companies: string[] }): void {
  for (const objectType of ['contacts', 'companies'] as const) {
    nock(HUBSPOT)
      .persist()
      .get(`/crm/v3/properties/${objectType}/groups`)
      .reply(200, { results: [{ name: 'pqlkit_product_usage', label: 'Product usage (pqlkit)', displayOrder: -1, archived: false }, { name: 'pqlkit_internals', label: 'pqlkit internals', displayOrder: -1, archived: false }] })
      .get(`/crm/v3/properties/${objectType}`)
      .query(true)
      .reply(200, { results: properties[objectType].map((name) => ({ name, label: name, type: 'string', fieldType: 'text', groupName: 'pqlkit_product_usage', options: [] })) })
  }
}

export const completed = (results: unknown[]) => ({
  status: 'COMPLETE',
  results,
  startedAt: '2026-03-01T00:00:00.000Z',
  completedAt: '2026-03-01T00:00:01.000Z'
})

export const record = (id: string, properties: Record<string, string | null>) => ({
  id,
  properties,
  createdAt: '2026-03-01T00:00:00.000Z',
  updatedAt: '2026-03-01T00:00:00.000Z',
  archived: false
})
