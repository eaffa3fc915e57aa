import nock from 'nock'
import { loadModel, modelProperties } from '@pqlkit/core'

export const HUBSPOT = 'https://api.hubapi.com'

/** A portal where pqlkit's groups and the model's properties already exist, as bootstrap creates them (bootstrap only reads). */
export function bootstrapped(model: string): void {
  const compiled = loadModel(model)
  for (const objectType of ['contacts', 'companies'] as const) {
    nock(HUBSPOT)
      .persist()
      .get(`/crm/v3/properties/${objectType}/groups`)
      .reply(200, { results: [{ name: 'pqlkit_product_usage', label: 'Product usage (pqlkit)', displayOrder: -1, archived: false }, { name: 'pqlkit_internals', label: 'pqlkit internals', displayOrder: -1, archived: false }] })
      .get(`/crm/v3/properties/${objectType}`)
      .query(true)
      .reply(200, { results: modelProperties(compiled, objectType).map((property) => ({ options: [], ...property })) })
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
