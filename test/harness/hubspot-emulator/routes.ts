import { validation } from './errors'
import { objectTypeOf, ObjectType } from './properties'
import { Answer, RecordFaults, Store } from './store'

/** The HubSpot endpoints the emulator serves, as (method, path pattern, handler). */
export type RouteContext = {
  store: Store
  portalId: number
  /** The portal's IANA time zone (account info's `timeZone`) and the request's wall time. */
  timeZone: string
  now: number
  params: string[]
  body: unknown
  query: URLSearchParams
  /** Per-record fault injection of this request. */
  fails: RecordFaults
}

type Route = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; pattern: RegExp; handle(context: RouteContext): Answer }

/** HubSpot's answer to an object type it does not know. */
function typeOf(segment: string): ObjectType {
  const type = objectTypeOf(segment)
  if (!type) throw validation(`Unable to infer object type from: ${segment}`)
  return type
}

const SEGMENT = '([^/]+)'

/** The zone's offset from UTC at `now`, from `Intl`'s `longOffset` name (`GMT-05:00`). */
function offsetMs(timeZone: string, now: number): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(now)).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT'
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name)
  return match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 3_600_000 + Number(match[3]) * 60_000) : 0
}

export const ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/account-info\/v3\/details$/,
    handle: ({ portalId, timeZone, now }) => {
      const utcOffsetMilliseconds = offsetMs(timeZone, now)
      const minutes = Math.abs(utcOffsetMilliseconds) / 60_000
      const utcOffset = `${utcOffsetMilliseconds < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`
      return {
        status: 200,
        body: { portalId, accountType: 'STANDARD', timeZone, companyCurrency: 'USD', additionalCurrencies: [], utcOffset, utcOffsetMilliseconds, uiDomain: 'app.hubspot.com', dataHostingLocation: 'na1' }
      }
    }
  },
  { method: 'GET', pattern: new RegExp(`^/crm/v3/objects/${SEGMENT}$`), handle: ({ store, params, query }) => store.list(typeOf(params[0]), query) },
  { method: 'POST', pattern: /^\/crm\/v3\/objects\/tasks$/, handle: ({ store, body }) => store.createTask(body) },
  {
    method: 'POST',
    pattern: new RegExp(`^/crm/v3/objects/${SEGMENT}/batch/(read|upsert|update|create)$`),
    handle: ({ store, params, body, fails }) => {
      const type = typeOf(params[0])
      if (params[1] === 'read') return store.batchRead(type, body, fails)
      if (params[1] === 'create') return store.batchCreate(type, body, fails)
      return params[1] === 'upsert' ? store.batchUpsert(type, body, fails) : store.batchUpdate(type, body, fails)
    }
  },
  { method: 'POST', pattern: /^\/events\/v3\/send$/, handle: ({ store, body }) => store.sendEvent(body) },
  { method: 'POST', pattern: new RegExp(`^/crm/v3/objects/${SEGMENT}/search$`), handle: ({ store, params, body }) => store.search(typeOf(params[0]), body) },
  {
    method: 'POST',
    pattern: new RegExp(`^/crm/v4/associations/${SEGMENT}/${SEGMENT}/batch/associate/default$`),
    handle: ({ store, params, body, fails }) => store.associateDefault(typeOf(params[0]), typeOf(params[1]), body, fails)
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/crm/v4/objects/${SEGMENT}/${SEGMENT}/associations/${SEGMENT}$`),
    handle: ({ store, params, query }) => store.listAssociations(typeOf(params[0]), decodeURIComponent(params[1]), typeOf(params[2]), query)
  },
  { method: 'GET', pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}$`), handle: ({ store, params }) => store.listProperties(typeOf(params[0])) },
  { method: 'POST', pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}$`), handle: ({ store, params, body }) => store.createProperty(typeOf(params[0]), body) },
  {
    method: 'POST',
    pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}/batch/create$`),
    handle: ({ store, params, body }) => store.batchCreateProperties(typeOf(params[0]), body)
  },
  { method: 'GET', pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}/groups$`), handle: ({ store, params }) => store.listGroups(typeOf(params[0])) },
  { method: 'POST', pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}/groups$`), handle: ({ store, params, body }) => store.createGroup(typeOf(params[0]), body) },
  {
    method: 'GET',
    pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}/${SEGMENT}$`),
    handle: ({ store, params }) => store.getProperty(typeOf(params[0]), decodeURIComponent(params[1]))
  },
  {
    method: 'PATCH',
    pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}/${SEGMENT}$`),
    handle: ({ store, params, body }) => store.updateProperty(typeOf(params[0]), decodeURIComponent(params[1]), body)
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^/crm/v3/properties/${SEGMENT}/${SEGMENT}$`),
    handle: ({ store, params }) => store.archiveProperty(typeOf(params[0]), decodeURIComponent(params[1]))
  }
]

/** The route for a request, with its path parameters. */
export function findRoute(method: string, path: string): { route: Route; params: string[] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue
    const match = route.pattern.exec(path)
    if (match) return { route, params: match.slice(1) }
  }
  return undefined
}

/** Whether the path is a CRM search (its own 5 per second limit). */
export const isSearch = (path: string): boolean => /^\/crm\/v3\/objects\/[^/]+\/search$/.test(path)
