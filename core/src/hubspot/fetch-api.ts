import {
  BatchError,
  BatchResult,
  batchResult,
  DEFAULT_BASE,
  HubSpotCalls,
  HubSpotConfig,
  RawBatch,
  SearchPage,
  SearchRequest,
  TASK_TO_CONTACT,
  UpsertInput
} from './api'
import type { ObjectType, PropertyDefinition } from './properties'
import { Answer, Transport } from './transport'

/** The part of WHATWG `fetch` pqlkit needs; hosts adapt theirs (RudderStack's `fetchV2`, PostHog's `fetch`). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string }
) => Promise<{ status: number; headers: HeadersLike; text(): Promise<string> }>

export type HeadersLike = { forEach(callback: (value: string, key: string) => void): void }

/** A non-2xx answer, shaped as the official client's ApiException so the transport classifies both alike. */
class HttpAnswerError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: Record<string, string>
  ) {
    super(`HTTP ${code}`)
  }
}

/** A request that got no answer; `code` is the network error's code when the host gives one. */
class NetworkError extends Error {
  constructor(readonly code: string) {
    super(code)
  }
}

/**
 * The HubSpot calls of SPEC §5 on a bare `fetch`, for sandboxes without Node's HTTP stack or
 * room for the official client. Same paths and bodies as the official client sends, same
 * transport (limiter, retries), same results.
 */
export class FetchHubSpotApi implements HubSpotCalls {
  private readonly base: string

  constructor(
    private readonly config: HubSpotConfig,
    readonly transport: Transport,
    private readonly fetch: FetchLike
  ) {
    this.base = config.basePath?.replace(/\/+$/, '') || DEFAULT_BASE
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    return this.transport.call(`${method} ${path.split('?')[0]}`, async () => {
      let response: Awaited<ReturnType<FetchLike>>
      try {
        response = await this.fetch(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.config.accessToken}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' })
          },
          body: body === undefined ? undefined : JSON.stringify(body)
        })
      } catch (error) {
        const cause = (error as { cause?: { code?: unknown }; code?: unknown }) ?? {}
        const code = cause.cause?.code ?? cause.code
        throw new NetworkError(typeof code === 'string' ? code : 'no answer')
      }
      const headers: Record<string, string> = {}
      response.headers.forEach((value, key) => (headers[key.toLowerCase()] = value))
      const text = await response.text()
      if (response.status < 200 || response.status > 299) throw new HttpAnswerError(response.status, text, headers)
      return { status: response.status, headers, data: (text ? JSON.parse(text) : {}) as T }
    })
  }

  async batchRead(objectType: ObjectType, idProperty: string, ids: string[], properties: string[]): Promise<BatchResult> {
    const { data } = await this.request<RawBatch>('POST', `/crm/v3/objects/${objectType}/batch/read?archived=false`, {
      idProperty,
      inputs: ids.map((id) => ({ id })),
      properties,
      propertiesWithHistory: []
    })
    return batchResult(data)
  }

  async batchUpsert(objectType: ObjectType, inputs: UpsertInput[]): Promise<BatchResult> {
    return batchResult((await this.request<RawBatch>('POST', `/crm/v3/objects/${objectType}/batch/upsert`, { inputs })).data)
  }

  async batchUpdate(objectType: ObjectType, inputs: { id: string; properties: Record<string, string> }[]): Promise<BatchResult> {
    return batchResult((await this.request<RawBatch>('POST', `/crm/v3/objects/${objectType}/batch/update`, { inputs })).data)
  }

  async associate(pairs: { contactId: string; companyId: string }[]): Promise<BatchResult> {
    const { data } = await this.request<RawBatch>('POST', '/crm/v4/associations/contacts/companies/batch/associate/default', {
      inputs: pairs.map((pair) => ({ from: { id: pair.contactId }, to: { id: pair.companyId } }))
    })
    return { results: [], errors: batchResult(data).errors }
  }

  async propertyNames(objectType: ObjectType): Promise<Set<string>> {
    const { data } = await this.request<{ results: { name: string }[] }>('GET', `/crm/v3/properties/${objectType}?archived=false`)
    return new Set(data.results.map((property) => property.name))
  }

  async groupNames(objectType: ObjectType): Promise<Set<string>> {
    const { data } = await this.request<{ results: { name: string }[] }>('GET', `/crm/v3/properties/${objectType}/groups`)
    return new Set(data.results.map((group) => group.name))
  }

  async createGroup(objectType: ObjectType, group: { name: string; label: string }): Promise<void> {
    await this.request('POST', `/crm/v3/properties/${objectType}/groups`, { ...group, displayOrder: -1 })
  }

  async createProperties(objectType: ObjectType, properties: PropertyDefinition[]): Promise<BatchError[]> {
    return batchResult((await this.request<RawBatch>('POST', `/crm/v3/properties/${objectType}/batch/create`, { inputs: properties })).data).errors
  }

  async createTask(properties: Record<string, string>, contactId: string): Promise<string> {
    const { data } = await this.request<{ id: string }>('POST', '/crm/v3/objects/tasks', {
      properties,
      associations: [{ to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: TASK_TO_CONTACT }] }]
    })
    return data.id
  }

  async search(objectType: ObjectType, request: SearchRequest): Promise<SearchPage> {
    const { data } = await this.request<RawBatch>('POST', `/crm/v3/objects/${objectType}/search`, request)
    return { results: batchResult(data).results, total: data.total ?? 0, after: data.paging?.next?.after }
  }
}
