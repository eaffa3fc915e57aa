import { ValidationError } from '../engine/errors'
import { asId, isRecord } from './message-values'
import type { ProductEvent } from '../engine/event'

/**
 * A message in Segment's spec (also RudderStack's and the CLI's JSON Lines) as a ProductEvent.
 * Email comes from `traits.email`, then `context.traits.email`, then `properties.email` (SPEC §7);
 * the company from `groupId` or `context.groupId`, and for group calls `traits.domain`/`website`.
 */
export function segmentMessageToProductEvent(message: unknown): ProductEvent {
  if (!isRecord(message)) throw new ValidationError('message', 'is not a JSON object')
  const type = message.type
  if (type !== 'track' && type !== 'identify' && type !== 'group') {
    throw new ValidationError('type', `${JSON.stringify(type)} is not one of track, identify, group`)
  }
  const context = isRecord(message.context) ? message.context : {}
  const traits = isRecord(message.traits) ? message.traits : undefined
  const properties = isRecord(message.properties) ? message.properties : undefined
  const contextTraits = isRecord(context.traits) ? context.traits : undefined
  const email = [traits?.email, contextTraits?.email, properties?.email].find(
    (candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== ''
  )
  const groupId = asId(message.groupId) ?? asId(context.groupId)
  const domain =
    type === 'group'
      ? [traits?.domain, traits?.website].find((d): d is string => typeof d === 'string' && d.trim() !== '')
      : undefined
  return {
    kind: type,
    messageId: asId(message.messageId) ?? '',
    timestamp: typeof message.timestamp === 'string' ? message.timestamp : '',
    email,
    userId: asId(message.userId),
    event: typeof message.event === 'string' ? message.event : undefined,
    properties,
    traits: type === 'track' ? undefined : traits,
    company: groupId !== undefined || domain !== undefined ? { groupId, domain } : undefined
  }
}
