import { Client } from '@hubspot/api-client'
import {
  BatchError,
  BatchResult,
  batchResult,
  DEFAULT_BASE,
  HubSpotCalls,
  HubSpotConfig,
  lowerCaseKeys,
  RawBatch,
  SearchPage,
  SearchRequest,
  TASK_TO_CONTACT,
  UpsertInput
} from './api'
import type { PropertyDefinition, ObjectType } from './properties'
import { Answer, Transport } from './transport'

export * from './api'

/**
 * The official `@hubspot/api-client`, one per process (SPEC §5): its retry and limiter
 * decorators are process-wide, so pqlkit creates it once with both off and does its own
 * (transport.ts). Which portal a call goes to is not client state: every call carries its
 * token and base URL in per-call middleware, so one process can serve several portals at
 * once (Segment's runtime does) without one call ever using another's token.
 */
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

type WithHttpInfo<T> = { httpStatusCode: number; headers: Record<string, string>; data: T }

function answer<T>(info: WithHttpInfo<T>): Answer<T> {
  return { status: info.httpStatusCode, headers: lowerCaseKeys(info.headers), data: info.data }
}

function batchApi(client: Client, objectType: ObjectType) {
  return objectType === 'contacts' ? client.crm.contacts.batchApi : client.crm.companies.batchApi
}

/** The HubSpot calls of SPEC §5 on the official client, each through the transport. */
export class HubSpotApi implements HubSpotCalls {
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
              types: [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: TASK_TO_CONTACT }]
            }
          ]
        }, this.options)
      )
    )
    return data.id
  }

  async search(objectType: ObjectType, request: SearchRequest): Promise<SearchPage> {
    const api = objectType === 'contacts' ? this.client.crm.contacts.searchApi : this.client.crm.companies.searchApi
    const { data } = await this.transport.call(`POST /crm/v3/objects/${objectType}/search`, async () =>
      answer(
        (await api.doSearchWithHttpInfo(request as never, this.options)) as unknown as WithHttpInfo<RawBatch>
      )
    )
    return { results: batchResult(data).results, total: data.total ?? 0, after: data.paging?.next?.after }
  }
}
