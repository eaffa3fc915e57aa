import type { PropertyDefinition, ObjectType } from './properties'
import type { Transport } from './transport'

/**
 * The HubSpot calls pqlkit makes (SPEC §5). Two implementations: `HubSpotApi` on the official
 * `@hubspot/api-client` (CLI, Segment, `pqlkit serve`), and `FetchHubSpotApi` on a bare
 * `fetch` for sandboxes that have nothing else (RudderStack's `fetchV2`, PostHog's plugin
 * `fetch`). Both go through the same `Transport`: one limiter, one retry policy.
 */
export interface HubSpotCalls {
  readonly transport: Transport
  batchRead(objectType: ObjectType, idProperty: string, ids: string[], properties: string[]): Promise<BatchResult>
  batchUpsert(objectType: ObjectType, inputs: UpsertInput[]): Promise<BatchResult>
  batchUpdate(objectType: ObjectType, inputs: { id: string; properties: Record<string, string> }[]): Promise<BatchResult>
  /** v4 default contact→company association for each pair; only errors come back. */
  associate(pairs: { contactId: string; companyId: string }[]): Promise<BatchResult>
  propertyNames(objectType: ObjectType): Promise<Set<string>>
  groupNames(objectType: ObjectType): Promise<Set<string>>
  createGroup(objectType: ObjectType, group: { name: string; label: string }): Promise<void>
  /** Creates properties in one call (HubSpot's batch create); returns what HubSpot refused, with why. */
  createProperties(objectType: ObjectType, properties: PropertyDefinition[]): Promise<BatchError[]>
  /** A task associated with the contact; returns the task's id. */
  createTask(properties: Record<string, string>, contactId: string): Promise<string>
  /** One page of a CRM search (SPEC §7 sweep). */
  search(objectType: ObjectType, request: SearchRequest): Promise<SearchPage>
}

export type HubSpotConfig = { accessToken: string; basePath?: string }
export type HubSpotRecord = { id: string; properties: Record<string, string | null> }
export type BatchError = { message: string; category?: string; context?: Record<string, string[]> }
export type BatchResult = { results: HubSpotRecord[]; errors: BatchError[] }
export type UpsertInput = { idProperty?: string; id: string; properties: Record<string, string> }
export type SearchRequest = { filterGroups: unknown[]; properties: string[]; limit: number; after?: string; sorts?: string[] }
export type SearchPage = { results: HubSpotRecord[]; total: number; after?: string }

export const DEFAULT_BASE = 'https://api.hubapi.com'

/** A batch answer as HubSpot sends it (200 or 207). */
export type RawBatch = {
  results?: { id: string; properties?: Record<string, string | null> }[]
  errors?: { message?: string; category?: string; context?: Record<string, string[]> }[]
  total?: number
  paging?: { next?: { after?: string } }
}

export function batchResult(data: RawBatch): BatchResult {
  return {
    results: (data.results ?? []).map((record) => ({ id: record.id, properties: record.properties ?? {} })),
    errors: (data.errors ?? []).map((error) => ({ message: error.message ?? 'error', category: error.category, context: error.context }))
  }
}

export function lowerCaseKeys(headers: unknown): Record<string, string> {
  const result: Record<string, string> = {}
  if (headers && typeof headers === 'object') {
    for (const [key, value] of Object.entries(headers as Record<string, unknown>)) result[key.toLowerCase()] = String(value)
  }
  return result
}

/** The association type of a task to a contact (HUBSPOT_DEFINED 204). */
export const TASK_TO_CONTACT = 204
