import type { ActionDefinition } from '@segment/actions-core'
import type { ProductEvent } from '@pqlkit/core'
import type { Settings } from '../generated-types'
import type { Payload } from './generated-types'
import { batchingFields, identityFields } from '../fields'
import { isoTimestamp, performMany, performOne } from '../pipeline'

export function toProductEvent(payload: Payload): ProductEvent {
  return {
    kind: 'identify',
    messageId: payload.message_id,
    timestamp: isoTimestamp(payload.timestamp),
    email: payload.email ?? undefined,
    userId: payload.user_id ?? undefined,
    traits: payload.traits ?? undefined,
    company: payload.group_id ? { groupId: payload.group_id } : undefined
  }
}

const action: ActionDefinition<Settings, Payload> = {
  title: 'Identify Contact',
  description:
    "Links a user id to the contact's email and records the traits the model reads (e.g. plan), then updates the contact's PQL score in HubSpot.",
  defaultSubscription: 'type = "identify"',
  fields: {
    ...identityFields(['$.traits.email', '$.context.traits.email']),
    traits: {
      label: 'Traits',
      description: "The user's traits; the model's `trait:` signals read them.",
      type: 'object',
      default: { '@path': '$.traits' }
    },
    group_id: {
      label: 'Company (group) ID',
      description: 'The account the user belongs to, when the identify call carries one.',
      type: 'string',
      default: { '@path': '$.context.groupId' }
    },
    ...batchingFields
  },
  perform: (_request, { settings, payload }) => performOne(settings, toProductEvent(payload)),
  performBatch: (_request, { settings, payload }) => performMany(settings, payload, toProductEvent)
}

export default action
