import { invalidInput, validation } from './errors'
import { PropertyDefinition } from './properties'
import type { StoredRecord } from './store'

/**
 * CRM search (`POST /crm/v3/objects/{type}/search`): filter groups (OR of ANDs) with
 * HubSpot's limits (5 groups, 6 filters a group, 18 in all), sorts, and offset paging of at
 * most 200 a page and 10,000 in all.
 */
export const SEARCH_PAGE_LIMIT = 200
const SEARCH_RESULT_LIMIT = 10_000
const OPERATORS = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY']

type Filter = { propertyName: string; operator: string; value?: unknown }
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Numbers and times compare as numbers (times given as epoch ms or ISO 8601), text case-insensitively. */
function comparable(property: PropertyDefinition, value: string): number | string {
  if (property.type === 'number') return Number(value)
  if (property.type === 'datetime' || property.type === 'date') return /^-?\d+$/.test(value) ? Number(value) : Date.parse(value)
  return value.toLowerCase()
}

function matches(property: PropertyDefinition, filter: Filter, record: StoredRecord): boolean {
  const stored = record.properties[property.name] || undefined // a cleared ('') value is no value
  if (filter.operator === 'HAS_PROPERTY') return stored !== undefined
  if (filter.operator === 'NOT_HAS_PROPERTY') return stored === undefined
  // A record without the property only matches NEQ.
  if (stored === undefined) return filter.operator === 'NEQ'
  const have = comparable(property, stored)
  const want = comparable(property, String(filter.value))
  switch (filter.operator) {
    case 'EQ':
      return have === want
    case 'NEQ':
      return have !== want
    case 'LT':
      return have < want
    case 'LTE':
      return have <= want
    case 'GT':
      return have > want
    default:
      return have >= want
  }
}

function filterGroups(definitions: Map<string, PropertyDefinition>, given: unknown): Filter[][] {
  const groups = given ?? []
  if (!Array.isArray(groups)) throw invalidInput('filterGroups must be an array')
  if (groups.length > 5) throw validation(`Too many filter groups: ${groups.length} (at most 5)`)
  const lists = groups.map((group) => {
    const filters = isObject(group) && Array.isArray(group.filters) ? group.filters : undefined
    if (!filters) throw invalidInput('each filter group needs a filters array')
    if (filters.length > 6) throw validation(`Too many filters in a group: ${filters.length} (at most 6)`)
    for (const filter of filters) {
      const operator = isObject(filter) ? String(filter.operator) : ''
      if (!OPERATORS.includes(operator)) throw invalidInput(`filter operator must be one of ${OPERATORS.join(', ')} (in the emulator), got ${operator}`)
      const property = definitions.get(String(filter.propertyName))
      if (!property) throw validation(`Property ${String(filter.propertyName)} does not exist`)
      if (!operator.includes('HAS_PROPERTY')) {
        if (typeof filter.value !== 'string' && typeof filter.value !== 'number') throw validation(`The ${operator} filter on ${property.name} needs a value`)
        if (Number.isNaN(comparable(property, String(filter.value)))) throw validation(`${filter.value} is not a valid ${property.type} to filter ${property.name} by`)
      }
    }
    return filters as Filter[]
  })
  const total = lists.reduce((sum, list) => sum + list.length, 0)
  if (total > 18) throw validation(`Too many filters: ${total} (at most 18 in all)`)
  return lists
}

/** Sorts: `"name"`, `"-name"` (descending) or `{ propertyName, direction }`; then by id. */
function sorter(definitions: Map<string, PropertyDefinition>, given: unknown): (a: StoredRecord, b: StoredRecord) => number {
  const sorts = (Array.isArray(given) ? given : []).map((sort) => {
    const name = isObject(sort) ? String(sort.propertyName) : String(sort).replace(/^-/, '')
    const property = definitions.get(name)
    if (!property) throw validation(`Cannot sort by ${name}: the property does not exist`)
    return { property, descending: isObject(sort) ? sort.direction === 'DESCENDING' : String(sort).startsWith('-') }
  })
  return (a, b) => {
    for (const { property, descending } of sorts) {
      const [x, y] = [a.properties[property.name] || undefined, b.properties[property.name] || undefined]
      if (x === y) continue
      if (x === undefined || y === undefined) return x === undefined ? 1 : -1
      const [p, q] = [comparable(property, x), comparable(property, y)]
      if (p !== q) return (p < q ? -1 : 1) * (descending ? -1 : 1)
    }
    return Number(a.id) - Number(b.id)
  }
}

export function search(definitions: Map<string, PropertyDefinition>, records: StoredRecord[], body: unknown) {
  if (!isObject(body)) throw invalidInput('Cannot build PublicObjectSearchRequest from a non-object')
  const limit = body.limit === undefined ? 10 : Number(body.limit)
  if (!Number.isInteger(limit) || limit < 0 || limit > SEARCH_PAGE_LIMIT) throw validation(`limit must be between 0 and ${SEARCH_PAGE_LIMIT}, got ${JSON.stringify(body.limit)}`)
  const offset = body.after === undefined || body.after === '' ? 0 : Number(body.after)
  if (!Number.isInteger(offset) || offset < 0) throw validation(`after must be a paging token from a previous page, got ${JSON.stringify(body.after)}`)
  if (offset + limit > SEARCH_RESULT_LIMIT) throw validation(`Search can page through at most ${SEARCH_RESULT_LIMIT} results`)
  const groups = filterGroups(definitions, body.filterGroups)
  const found = records
    .filter((record) => groups.length === 0 || groups.some((filters) => filters.every((f) => matches(definitions.get(f.propertyName)!, f, record))))
    .sort(sorter(definitions, body.sorts))
  const requested = Array.isArray(body.properties) ? body.properties.filter((p): p is string => typeof p === 'string') : []
  const after = offset + limit < found.length ? String(offset + limit) : undefined
  return { page: found.slice(offset, offset + limit), total: found.length, after, requested }
}
