import { Client } from '@hubspot/api-client'
import type { PropertyDefinition, ObjectType } from './properties'
import { Answer, Transport } from './transport'

/**
 * The official `@hubspot/api-client`, one per process (SPEC §5): its retry and limiter
 * decorators are process-wide, so pqlkit creates it once with both off and does its own
 * (transport.ts). Which portal a call goes to is not client state: every call carries its
 * token and base URL in per-call middleware, so one process can serve several portals at
 * once (Segment's runtime does) without one call ever using another's token.
 */
export type HubSpotConfig = { accessToken: string; basePath?: string }

const DEFAULT_BASE = 'https://api.hubapi.com'
let shared: Client | undefined

export function sharedClient(): Client {
  shared ??= new Client({ numberOfApiCallRetries: 0 })
  return shared
}

type RequestContext = { setHeaderParam(name: string, value: string): void; getUrl(): string; setUrl(url: string): void }

/** The per-call options that route a call to one portal. */
function callOptions(config: HubSpotConfig) {
  const base = config.basePath?.replace(/\/+$/, '')
  return {
    middlewareMergeStrategy: 'append' as const,
    middleware: [
      {
        pre: async (context: RequestContext) => {
          context.setHeaderParam('Authorization', `Bearer ${config.accessToken}`)
          const url = context.getUrl()
          if (base && url.startsWith(DEFAULT_BASE)) context.setUrl(base + url.slice(DEFAULT_BASE.length))
          return context
        },
        post: async <T>(response: T) => response
      }
    ]
  }
}

/** SPEC §5: `HUBSPOT_BASE_URL` (no trailing slash) points the client at another base URL. */
export function hubspotConfigFromEnv(env: Record<string, string | undefined>): HubSpotConfig | undefined {
  const accessToken = env.HUBSPOT_ACCESS_TOKEN
  if (!accessToken) return undefined
  const basePath = env.HUBSPOT_BASE_URL?.replace(/\/+$/, '') || undefined
  return { accessToken, basePath }
}

export type HubSpotRecord = { id: string; properties: Record<string, string | null> }
export type BatchError = { message: string; category?: string; context?: Record<string, string[]> }
export type BatchResult = { results: HubSpotRecord[]; errors: BatchError[] }
export type UpsertInput = { idProperty?: string; id: string; properties: Record<string, string> }

type WithHttpInfo<T> = { httpStatusCode: number; headers: Record<string, string>; data: T }

function answer<T>(info: WithHttpInfo<T>): Answer<T> {
  return { status: info.httpStatusCode, headers: lowerCase(info.headers), data: info.data }
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [key, value] of Object.entries(headers ?? {})) result[key.toLowerCase()] = value
  return result
}

type RawBatch = {
  results?: { id: string; properties?: Record<string, string | null> }[]
  errors?: { message?: string; category?: string; context?: Record<string, string[]> }[]
}

function batchResult(data: RawBatch): BatchResult {
  return {
    results: (data.results ?? []).map((record) => ({ id: record.id, properties: record.properties ?? {} })),
    errors: (data.errors ?? []).map((error) => ({ message: error.message ?? 'error', category: error.category, context: error.context }))
  }
}

function batchApi(client: Client, objectType: ObjectType) {
  return objectType === 'contacts' ? client.crm.contacts.batchApi : client.crm.companies.batchApi
}

/** The HubSpot calls pqlkit makes (SPEC §5), each through the transport. */
export class HubSpotApi {
  private readonly client = sharedClient()
  /** Every generated module declares its own (structurally identical) options type: cast once here. */
  private readonly options: never

  constructor(
    config: HubSpotConfig,
    readonly transport: Transport
  ) {
    this.options = callOptions(config) as never
  }

  async batchRead(objectType: ObjectType, idProperty: string, ids: string[], properties: string[]): Promise<BatchResult> {
    const { data } = await this.transport.call(`POST /crm/v3/objects/${objectType}/batch/read`, async () =>
      answer(
        (await batchApi(this.client, objectType).readWithHttpInfo(
          { idProperty, inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: [] },
          false,
          this.options
        )) as unknown as WithHttpInfo<RawBatch>
      )
    )
    return batchResult(data)
  }

  async batchUpsert(objectType: ObjectType, inputs: UpsertInput[]): Promise<BatchResult> {
    const { data } = await this.transport.call(`POST /crm/v3/objects/${objectType}/batch/upsert`, async () =>
      answer((await batchApi(this.client, objectType).upsertWithHttpInfo({ inputs }, this.options)) as unknown as WithHttpInfo<RawBatch>)
    )
    return batchResult(data)
  }

  async batchUpdate(objectType: ObjectType, inputs: { id: string; properties: Record<string, string> }[]): Promise<BatchResult> {
    const { data } = await this.transport.call(`POST /crm/v3/objects/${objectType}/batch/update`, async () =>
      answer((await batchApi(this.client, objectType).updateWithHttpInfo({ inputs }, this.options)) as unknown as WithHttpInfo<RawBatch>)
    )
    return batchResult(data)
  }

  /** v4 default contact→company association for each pair. */
  async associate(pairs: { contactId: string; companyId: string }[]): Promise<BatchResult> {
    const { data } = await this.transport.call('POST /crm/v4/associations/contacts/companies/batch/associate/default', async () =>
      answer(
        (await this.client.crm.associations.v4.batchApi.createDefaultWithHttpInfo('contacts', 'companies', {
          inputs: pairs.map((pair) => ({ _from: { id: pair.contactId }, to: { id: pair.companyId } }))
        }, this.options)) as unknown as WithHttpInfo<RawBatch>
      )
    )
    return { results: [], errors: batchResult(data).errors }
  }

  async propertyNames(objectType: ObjectType): Promise<Set<string>> {
    const { data } = await this.transport.call(`GET /crm/v3/properties/${objectType}`, async () =>
      answer(await this.client.crm.properties.coreApi.getAllWithHttpInfo(objectType, false, undefined, this.options))
    )
    return new Set(data.results.map((property) => property.name))
  }

  async groupNames(objectType: ObjectType): Promise<Set<string>> {
    const { data } = await this.transport.call(`GET /crm/v3/properties/${objectType}/groups`, async () =>
      answer(await this.client.crm.properties.groupsApi.getAllWithHttpInfo(objectType, this.options))
    )
    return new Set(data.results.map((group) => group.name))
  }

  async createGroup(objectType: ObjectType, group: { name: string; label: string }): Promise<void> {
    await this.transport.call(`POST /crm/v3/properties/${objectType}/groups`, async () =>
      answer(await this.client.crm.properties.groupsApi.createWithHttpInfo(objectType, { ...group, displayOrder: -1 }, this.options))
    )
  }

  /** Creates properties in one call (HubSpot's batch create); returns the names HubSpot refused, with why. */
  async createProperties(objectType: ObjectType, properties: PropertyDefinition[]): Promise<BatchError[]> {
    const { data } = await this.transport.call(`POST /crm/v3/properties/${objectType}/batch/create`, async () =>
      answer(
        (await this.client.crm.properties.batchApi.createWithHttpInfo(objectType, {
          inputs: properties as unknown as Parameters<Client['crm']['properties']['batchApi']['create']>[1]['inputs']
        }, this.options)) as unknown as WithHttpInfo<RawBatch>
      )
    )
    return batchResult(data).errors
  }

  async createTask(properties: Record<string, string>, contactId: string): Promise<string> {
    const { data } = await this.transport.call('POST /crm/v3/objects/tasks', async () =>
      answer(
        await this.client.crm.objects.tasks.basicApi.createWithHttpInfo({
          properties,
          associations: [
            {
              to: { id: contactId },
              types: [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: 204 }]
            }
          ]
        }, this.options)
      )
    )
    return data.id
  }

  /** One page of a CRM search (SPEC §7 sweep). */
  async search(
    objectType: ObjectType,
    request: { filterGroups: unknown[]; properties: string[]; limit: number; after?: string; sorts?: string[] }
  ): Promise<{ results: HubSpotRecord[]; total: number; after?: string }> {
    const api = objectType === 'contacts' ? this.client.crm.contacts.searchApi : this.client.crm.companies.searchApi
    const { data } = await this.transport.call(`POST /crm/v3/objects/${objectType}/search`, async () =>
      answer(
        (await api.doSearchWithHttpInfo(request as never, this.options)) as unknown as WithHttpInfo<
          RawBatch & { total?: number; paging?: { next?: { after?: string } } }
        >
      )
    )
    return { results: batchResult(data).results, total: data.total ?? 0, after: data.paging?.next?.after }
  }
}
