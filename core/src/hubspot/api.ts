import type { PropertyDefinition, ObjectType } from './properties'
import type { Answer, Transport } from './transport'

/**
 * The HubSpot calls pqlkit makes (SPEC §5), each written once: its method, path and body
 * (`CALLS`) and how its answer is read. One implementation, `HubSpotApi`, sends them over any
 * `fetch`: the official `@hubspot/api-client`'s own request stack in Node (`client.ts`),
 * or a sandbox host's own `fetch`. Every call
 * goes through the `Transport`: one limiter, one retry policy.
 */
export interface HubSpotCalls {
  readonly transport: Transport
  /** `withHistory`: properties whose versions come back too (`propertiesWithHistory`; at most 50 ids then). */
  batchRead(objectType: CrmObjectType, idProperty: string, ids: string[], properties: string[], withHistory?: string[]): Promise<BatchResult>
  batchUpsert(objectType: ObjectType, inputs: UpsertInput[]): Promise<BatchResult>
  batchUpdate(objectType: ObjectType, inputs: { id: string; properties: Record<string, string> }[]): Promise<BatchResult>
  /** v4 default contact→company association for each pair; only errors come back. */
  associate(pairs: { contactId: string; companyId: string }[]): Promise<BatchResult>
  /** The portal's property definitions (name, type, fieldType, options). */
  properties(objectType: ObjectType): Promise<PortalProperty[]>
  /** Changes a property's definition (`PATCH`): pqlkit changes only a tier enumeration's options. */
  updateProperty(objectType: ObjectType, name: string, patch: { options: PropertyOption[] }): Promise<void>
  groupNames(objectType: ObjectType): Promise<Set<string>>
  createGroup(objectType: ObjectType, group: { name: string; label: string }): Promise<void>
  /** Creates properties in one call (HubSpot's batch create); returns what HubSpot refused, with why. */
  createProperties(objectType: ObjectType, properties: PropertyDefinition[]): Promise<BatchError[]>
  /**
   * A task associated with the contact; returns the task's id. `repeatUnanswered: false`: a
   * creation that got no answer or a 5xx is not repeated (the caller looks for the task first).
   */
  createTask(properties: Record<string, string>, contactId: string, options?: { repeatUnanswered?: boolean }): Promise<string>
  /** The ids of the records of `toObjectType` associated with a record (v4, every page). */
  associatedIds(objectType: CrmObjectType, id: string, toObjectType: CrmObjectType): Promise<string[]>
  /** One page of a CRM search (SPEC §7 sweep). */
  search(objectType: ObjectType, request: SearchRequest): Promise<SearchPage>
}

/** The objects pqlkit reads: its subjects, and the tasks it creates. */
export type CrmObjectType = ObjectType | 'tasks'

export type PropertyOption = { label: string; value: string; displayOrder: number; hidden: boolean }
/** A property as the portal has it. */
export type PortalProperty = { name: string; type: string; fieldType: string; options?: PropertyOption[] }

export type HubSpotConfig = { accessToken: string; basePath?: string }
/** One version of a property's value (HubSpot's `ValueWithTimestamp`), newest first in `history`. */
export type PropertyVersion = { value: string; timestamp: string }
export type HubSpotRecord = { id: string; properties: Record<string, string | null>; history?: Record<string, PropertyVersion[]> }
export type BatchError = { message: string; category?: string; context?: Record<string, string[]> }
export type BatchResult = { results: HubSpotRecord[]; errors: BatchError[] }
export type UpsertInput = { idProperty?: string; id: string; properties: Record<string, string> }
export type SearchRequest = { filterGroups: unknown[]; properties: string[]; limit: number; after?: string; sorts?: string[] }
export type SearchPage = { results: HubSpotRecord[]; total: number; after?: string }

export const DEFAULT_BASE = 'https://api.hubapi.com'

/** SPEC §5: `HUBSPOT_BASE_URL` (no trailing slash) points pqlkit at another base URL. */
export function hubspotConfigFromEnv(env: Record<string, string | undefined>): HubSpotConfig | undefined {
  const accessToken = env.HUBSPOT_ACCESS_TOKEN
  if (!accessToken) return undefined
  const basePath = env.HUBSPOT_BASE_URL?.replace(/\/+$/, '') || undefined
  return { accessToken, basePath }
}

/** The part of WHATWG `fetch` pqlkit needs; each sandbox host adapts its own. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string }
) => Promise<{ status: number; headers: HeadersLike; text(): Promise<string> }>

export type HeadersLike = { forEach(callback: (value: string, key: string) => void): void }

/** The association type of a task to a contact (HUBSPOT_DEFINED 204). */
export const TASK_TO_CONTACT = 204

/** `endpoint`: the name the transport counts the call under, when the path holds a record id. */
type Request = { method: 'GET' | 'POST' | 'PATCH'; path: string; body?: unknown; endpoint?: string }

/** Every path and body pqlkit sends, once (HubSpot's CRM v3 objects, properties and search; v4 associations). */
export const CALLS = {
  batchRead: (objectType: CrmObjectType, idProperty: string, ids: string[], properties: string[], withHistory: string[] = []): Request => ({
    method: 'POST',
    path: `/crm/v3/objects/${objectType}/batch/read?archived=false`,
    // By record id HubSpot takes no idProperty.
    body: { ...(idProperty === 'hs_object_id' ? {} : { idProperty }), inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: withHistory }
  }),
  /**
   * The id property's value goes among the properties too: HubSpot's answer schema
   * (`SimplePublicUpsertObject`) promises a record's id and properties, never an echo of the
   * input's `idProperty`, and pqlkit finds each input's record in the answer by that value.
   */
  batchUpsert: (objectType: ObjectType, inputs: UpsertInput[]): Request => ({
    method: 'POST',
    path: `/crm/v3/objects/${objectType}/batch/upsert`,
    body: { inputs: inputs.map((input) => (input.idProperty ? { ...input, properties: { ...input.properties, [input.idProperty]: input.id } } : input)) }
  }),
  batchUpdate: (objectType: ObjectType, inputs: { id: string; properties: Record<string, string> }[]): Request => ({
    method: 'POST',
    path: `/crm/v3/objects/${objectType}/batch/update`,
    body: { inputs }
  }),
  associate: (pairs: { contactId: string; companyId: string }[]): Request => ({
    method: 'POST',
    path: '/crm/v4/associations/contacts/companies/batch/associate/default',
    body: { inputs: pairs.map((pair) => ({ from: { id: pair.contactId }, to: { id: pair.companyId } })) }
  }),
  properties: (objectType: ObjectType): Request => ({ method: 'GET', path: `/crm/v3/properties/${objectType}?archived=false` }),
  updateProperty: (objectType: ObjectType, name: string, patch: { options: PropertyOption[] }): Request => ({
    method: 'PATCH',
    path: `/crm/v3/properties/${objectType}/${encodeURIComponent(name)}`,
    body: patch
  }),
  groups: (objectType: ObjectType): Request => ({ method: 'GET', path: `/crm/v3/properties/${objectType}/groups` }),
  createGroup: (objectType: ObjectType, group: { name: string; label: string }): Request => ({
    method: 'POST',
    path: `/crm/v3/properties/${objectType}/groups`,
    body: { ...group, displayOrder: -1 }
  }),
  createProperties: (objectType: ObjectType, properties: PropertyDefinition[]): Request => ({
    method: 'POST',
    path: `/crm/v3/properties/${objectType}/batch/create`,
    body: { inputs: properties }
  }),
  createTask: (properties: Record<string, string>, contactId: string): Request => ({
    method: 'POST',
    path: '/crm/v3/objects/tasks',
    body: {
      properties,
      associations: [{ to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: TASK_TO_CONTACT }] }]
    }
  }),
  /** One page (at most 500, HubSpot's cap) of a record's associations to another object type. */
  associations: (objectType: CrmObjectType, id: string, toObjectType: CrmObjectType, after?: string): Request => ({
    method: 'GET',
    endpoint: `GET /crm/v4/objects/${objectType}/{id}/associations/${toObjectType}`,
    path: `/crm/v4/objects/${objectType}/${encodeURIComponent(id)}/associations/${toObjectType}?limit=500${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`
  }),
  search: (objectType: ObjectType, request: SearchRequest): Request => ({
    method: 'POST',
    path: `/crm/v3/objects/${objectType}/search`,
    body: request
  }),
  accountDetails: (): Request => ({ method: 'GET', path: '/account-info/v3/details' })
}

/** A batch answer as HubSpot sends it (200 or 207). */
type RawBatch = {
  results?: { id: string; properties?: Record<string, string | null>; propertiesWithHistory?: Record<string, { value?: string; timestamp?: string }[]> }[]
  errors?: { message?: string; category?: string; context?: Record<string, string[]> }[]
  total?: number
  paging?: { next?: { after?: string } }
}

/** A page of v4 associations (`CollectionResponseMultiAssociatedObjectWithLabelForwardPaging`). */
type RawAssociations = { results?: { toObjectId: number | string }[]; paging?: { next?: { after?: string } } }

function versionsOf(raw: Record<string, { value?: string; timestamp?: string }[]>): Record<string, PropertyVersion[]> {
  const history: Record<string, PropertyVersion[]> = {}
  for (const [name, versions] of Object.entries(raw)) {
    history[name] = (versions ?? []).map((version) => ({ value: version.value ?? '', timestamp: version.timestamp ?? '' }))
  }
  return history
}

function batchResult(data: RawBatch): BatchResult {
  return {
    results: (data.results ?? []).map((record) => ({
      id: record.id,
      properties: record.properties ?? {},
      ...(record.propertiesWithHistory ? { history: versionsOf(record.propertiesWithHistory) } : {})
    })),
    errors: (data.errors ?? []).map((error) => ({ message: error.message ?? 'error', category: error.category, context: error.context }))
  }
}

/** A non-2xx answer; the transport classifies it by `code`, `body` and `headers`. */
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

/** The calls of `CALLS` over a `fetch`, through the transport (limiter, retries). */
export class HubSpotApi implements HubSpotCalls {
  private readonly base: string

  constructor(
    private readonly config: HubSpotConfig,
    readonly transport: Transport,
    private readonly fetch: FetchLike
  ) {
    this.base = config.basePath?.replace(/\/+$/, '') || DEFAULT_BASE
    transport.readTimeZoneWith(async () => (await this.send<{ timeZone: string }>(CALLS.accountDetails())).timeZone)
  }

  private async send<T>({ method, path, body, endpoint }: Request, options: { repeatUnanswered?: boolean } = {}): Promise<T> {
    const answer: Answer<T> = await this.transport.call(endpoint ?? `${method} ${path.split('?')[0]}`, async () => {
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
    }, options)
    return answer.data
  }

  async batchRead(objectType: CrmObjectType, idProperty: string, ids: string[], properties: string[], withHistory: string[] = []): Promise<BatchResult> {
    return batchResult(await this.send<RawBatch>(CALLS.batchRead(objectType, idProperty, ids, properties, withHistory)))
  }

  async batchUpsert(objectType: ObjectType, inputs: UpsertInput[]): Promise<BatchResult> {
    return batchResult(await this.send<RawBatch>(CALLS.batchUpsert(objectType, inputs)))
  }

  async batchUpdate(objectType: ObjectType, inputs: { id: string; properties: Record<string, string> }[]): Promise<BatchResult> {
    return batchResult(await this.send<RawBatch>(CALLS.batchUpdate(objectType, inputs)))
  }

  async associate(pairs: { contactId: string; companyId: string }[]): Promise<BatchResult> {
    return { results: [], errors: batchResult(await this.send<RawBatch>(CALLS.associate(pairs))).errors }
  }

  async properties(objectType: ObjectType): Promise<PortalProperty[]> {
    const data = await this.send<{ results: PortalProperty[] }>(CALLS.properties(objectType))
    return data.results.map(({ name, type, fieldType, options }) => ({ name, type, fieldType, ...(options ? { options } : {}) }))
  }

  async updateProperty(objectType: ObjectType, name: string, patch: { options: PropertyOption[] }): Promise<void> {
    await this.send(CALLS.updateProperty(objectType, name, patch))
  }

  async groupNames(objectType: ObjectType): Promise<Set<string>> {
    const data = await this.send<{ results: { name: string }[] }>(CALLS.groups(objectType))
    return new Set(data.results.map((group) => group.name))
  }

  async createGroup(objectType: ObjectType, group: { name: string; label: string }): Promise<void> {
    await this.send(CALLS.createGroup(objectType, group))
  }

  async createProperties(objectType: ObjectType, properties: PropertyDefinition[]): Promise<BatchError[]> {
    return batchResult(await this.send<RawBatch>(CALLS.createProperties(objectType, properties))).errors
  }

  async createTask(properties: Record<string, string>, contactId: string, options: { repeatUnanswered?: boolean } = {}): Promise<string> {
    return (await this.send<{ id: string }>(CALLS.createTask(properties, contactId), options)).id
  }

  async associatedIds(objectType: CrmObjectType, id: string, toObjectType: CrmObjectType): Promise<string[]> {
    const ids: string[] = []
    let after: string | undefined
    do {
      const page = await this.send<RawAssociations>(CALLS.associations(objectType, id, toObjectType, after))
      for (const result of page.results ?? []) ids.push(String(result.toObjectId))
      after = page.paging?.next?.after
    } while (after !== undefined)
    return ids
  }

  async search(objectType: ObjectType, request: SearchRequest): Promise<SearchPage> {
    const data = await this.send<RawBatch>(CALLS.search(objectType, request))
    return { results: batchResult(data).results, total: data.total ?? 0, after: data.paging?.next?.after }
  }
}
