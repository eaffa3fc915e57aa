import type { Model } from '../model/compile'
import { ValidationError } from '../engine/errors'
import { asId, isRecord } from './message-values'
import type { ProductEvent } from '../engine/event'

/**
 * A PostHog event as pqlkit receives it: the plugin server's `ProcessedPluginEvent`, or the
 * `event` of PostHog's HTTP Webhook destination with its `person` and `groups` beside it.
 */
export type PostHogEvent = {
  uuid?: string
  event?: string
  distinct_id?: string
  timestamp?: string | Date
  properties?: Record<string, unknown>
  $set?: Record<string, unknown>
  $set_once?: Record<string, unknown>
  person?: { properties?: Record<string, unknown> }
  groups?: Record<string, { id?: unknown; key?: unknown; properties?: Record<string, unknown> }>
}

/** PostHog's structural properties: person and group updates, DOM chains. Not product usage. */
const STRUCTURAL = new Set(['$set', '$set_once', '$unset', '$groups', '$group_set', '$group_type', '$group_key', '$elements', '$elements_chain'])

/**
 * A PostHog event as a ProductEvent (SPEC §6). `$identify` is an identify with `$set` (over
 * `$set_once`) as traits; `$groupidentify` of `groupType` is a group call with `$group_set` as
 * traits; any other event is a track. Identifies and tracks take their company from
 * `$groups[groupType]` (posthog-js puts the current groups on every event). Email comes from
 * `person.properties.email`, then `$set.email`, then `properties.email`; the userId is the
 * distinct id unless the event is anonymous (`$is_identified: false`, the device id, or a
 * `$`-prefixed pseudo id such as posthog-node's `$company_acme` for group identifies).
 * Returns undefined for a `$groupidentify` of another group type.
 */
export function posthogEventToProductEvent(input: unknown, groupType: string): ProductEvent | undefined {
  if (!isRecord(input)) throw new ValidationError('event', 'is not a JSON object')
  const name = input.event
  if (typeof name !== 'string' || name.trim() === '') throw new ValidationError('event', 'has no event name')
  const properties = isRecord(input.properties) ? input.properties : {}
  const set = {
    ...(isRecord(properties.$set_once) ? properties.$set_once : {}),
    ...(isRecord(input.$set_once) ? input.$set_once : {}),
    ...(isRecord(properties.$set) ? properties.$set : {}),
    ...(isRecord(input.$set) ? input.$set : {})
  }
  const person = isRecord(input.person) && isRecord(input.person.properties) ? input.person.properties : {}
  const email = [person.email, set.email, properties.email].find(
    (candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== ''
  )
  const base = {
    messageId: asId(input.uuid) ?? '',
    timestamp: isoTimestamp(input.timestamp),
    email,
    userId: identifiedId(input.distinct_id, properties)
  }
  if (name === '$groupidentify') {
    if (properties.$group_type !== groupType) return undefined
    const traits = isRecord(properties.$group_set) ? properties.$group_set : {}
    const domain = [traits.domain, traits.website].find((d): d is string => typeof d === 'string' && d.trim() !== '')
    return { ...base, kind: 'group', traits, company: { groupId: asId(properties.$group_key), domain } }
  }
  const groups = isRecord(properties.$groups) ? properties.$groups : {}
  const webhookGroup = isRecord(input.groups) && isRecord(input.groups[groupType]) ? input.groups[groupType] : {}
  const groupId = asId(groups[groupType]) ?? asId(webhookGroup.id) ?? asId(webhookGroup.key)
  const company = groupId === undefined ? undefined : { groupId }
  if (name === '$identify') return { ...base, kind: 'identify', traits: set, company }
  return {
    ...base,
    kind: 'track',
    event: name,
    properties: Object.fromEntries(Object.entries(properties).filter(([key]) => !STRUCTURAL.has(key))),
    company
  }
}

/**
 * Whether the model reads this event at all. PostHog sends every event of a project to a
 * plugin (pageviews, autocapture, feature-flag calls); only identifies, group identifies and
 * the track events some signal names go to HubSpot. `*` matches custom events, not PostHog's
 * own `$` events, which a signal must name to count.
 */
export function modelReads(model: Model, event: ProductEvent): boolean {
  if (event.kind !== 'track') return true
  const name = event.event ?? ''
  for (const section of [model.contact, model.company]) {
    for (const signal of section?.signals ?? []) {
      const matcher = signal.matcher
      if (matcher && (matcher.events.has(name) || (matcher.anyEvent && !name.startsWith('$')))) return true
    }
  }
  return false
}

function identifiedId(distinctId: unknown, properties: Record<string, unknown>): string | undefined {
  const id = asId(distinctId)
  if (id === undefined || id.startsWith('$')) return undefined
  if (properties.$is_identified === false || id === properties.$device_id) return undefined
  return id
}

/** PostHog's timestamps: a Date (plugin server), ISO with a zone, or ClickHouse's zone-less UTC. */
function isoTimestamp(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString()
  if (typeof value !== 'string') return ''
  const text = value.trim().replace(' ', 'T')
  return /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text) ? `${text}Z` : text
}
