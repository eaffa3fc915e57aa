import { ProductEvent, segmentMessageToProductEvent } from '@pqlkit/core/portable'

/** The RudderStack event types pqlkit scores; page, screen and alias calls pass through untouched. */
export function isScored(message: unknown): boolean {
  const type = (message as { type?: unknown } | null)?.type
  return type === 'track' || type === 'identify' || type === 'group'
}

/**
 * A RudderStack message (Segment's spec) as a ProductEvent. RudderStack's server sets
 * `timestamp`; a message that skipped it (a replay, a test) falls back to `originalTimestamp`.
 */
export function toProductEvent(message: unknown): ProductEvent {
  const event = segmentMessageToProductEvent(message)
  const original = (message as { originalTimestamp?: unknown }).originalTimestamp
  if (event.timestamp === '' && typeof original === 'string') event.timestamp = original
  return event
}
