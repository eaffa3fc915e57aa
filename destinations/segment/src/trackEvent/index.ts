import type { ActionDefinition } from '@segment/actions-core'
import type { ProductEvent } from '@pqlkit/core'
import type { Settings } from '../generated-types'
import type { Payload } from './generated-types'
import { batchingFields, identityFields } from '../fields'
import { isoTimestamp, performMany, performOne } from '../pipeline'

export function toProductEvent(payload: Payload): ProductEvent {
  return {
    kind: 'track',
    messageId: payload.message_id,
    timestamp: isoTimestamp(payload.timestamp),
    email: payload.email ?? undefined,
    userId: payload.user_id ?? undefined,
    event: payload.event_name,
    properties: payload.properties ?? undefined,
    company: payload.group_id ? { groupId: payload.group_id } : undefined
  }
}

const action: ActionDefinition<Settings, Payload> = {
  title: 'Track Product Event',
  description:
    "Counts a product event toward the model's signals (flags, counts, sums, distinct values, active days) and updates the contact's PQL score, tier and reasons in HubSpot.",
  defaultSubscription: 'type = "track"',
  fields: {
    ...identityFields(['$.context.traits.email', '$.properties.email']),
    event_name: {
      label: 'Event name',
      description: "The product event, matched against the model's signals (e.g. Project Created).",
      type: 'string',
      required: true,
      default: { '@path': '$.event' }
    },
    properties: {
      label: 'Event properties',
      description: 'Properties the model reads (`of:` and `where:` in signals).',
      type: 'object',
      default: { '@path': '$.properties' }
    },
    group_id: {
      label: 'Company (group) ID',
      description: 'The account the event belongs to, for the company section of the model.',
      type: 'string',
      default: { '@path': '$.context.groupId' }
    },
    ...batchingFields
  },
  perform: (_request, { settings, payload }) => performOne(settings, toProductEvent(payload)),
  performBatch: (_request, { settings, payload }) => performMany(settings, payload, toProductEvent)
}

export default action
