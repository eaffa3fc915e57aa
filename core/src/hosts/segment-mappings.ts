import { Aggregation, ExportReader, VALUED, WINDOWED } from '../model/mappings'

/** Segment's side of mappings (docs/mappings.md): its export of the destination's subscriptions. */

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The action a Segment subscription runs for a mapping (destinations/segment/src/mapEventToProperty). */
export const SEGMENT_MAPPING_ACTION = 'mapEventToProperty'

/**
 * The event names of a Segment trigger as its builder writes them: `type = "track" and
 * event = "Report Created"`, or several events joined with `or`. Undefined for any other
 * trigger, which an offline replay cannot follow.
 */
export function triggerEvents(trigger: string): string[] | undefined {
  if (/^type\s*=\s*"track"$/.test(trigger.trim())) return ['*']
  const text = trigger
    .trim()
    .replace(/^type\s*=\s*"track"\s+and\s+/, '')
    .replace(/^\((.*)\)$/s, '$1')
  const names: string[] = []
  for (const part of text.split(/\s+or\s+/)) {
    const match = /^\(?\s*event\s*=\s*"((?:[^"\\]|\\.)*)"\s*\)?$/.exec(part.trim())
    if (!match) return undefined
    names.push(match[1].replace(/\\(.)/g, '$1'))
  }
  return names
}

/**
 * A Segment subscription of the mapping action, as Segment's export holds it (the Public API's
 * `actionSlug`/`trigger`/`settings`, or actions-core's `partnerAction`/`subscribe`/`mapping`),
 * as the mapping it saves; its trigger gives the event.
 */
export const segmentSubscription: ExportReader = (element) => {
  if (!isObject(element) || !('partnerAction' in element || 'actionSlug' in element)) return undefined
  const subscription = element
  if ((subscription.actionSlug ?? subscription.partnerAction) !== SEGMENT_MAPPING_ACTION) return {}
  const triggerKey = 'trigger' in subscription ? 'trigger' : 'subscribe'
  const trigger = subscription[triggerKey]
  const events = typeof trigger === 'string' ? triggerEvents(trigger) : undefined
  if (!events) {
    return {
      problem: {
        path: triggerKey,
        message: `pqlkit replays triggers on event names only, such as type = "track" and event = "Report Created" (joined with or); got ${JSON.stringify(trigger)}`
      }
    }
  }
  const fields = isObject(subscription.settings) ? subscription.settings : isObject(subscription.mapping) ? subscription.mapping : {}
  const { property, object, aggregation, window, value } = fields
  const aggregates = typeof aggregation === 'string' ? aggregation : undefined
  return {
    mapping: {
      property,
      ...(object === undefined ? {} : { object }),
      aggregation,
      event: events.length === 1 ? events[0] : events,
      // Segment keeps a hidden field's value: only what the aggregation takes is the mapping's.
      ...(window && WINDOWED.has(aggregates as Aggregation) ? { window } : {}),
      ...(value !== undefined && VALUED.has(aggregates as Aggregation) ? { value } : {})
    }
  }
}

