import type { ActionDefinition } from '@segment/actions-core'
import type { ProductEvent } from '@pqlkit/core'
import type { Settings } from '../generated-types'
import type { Payload } from './generated-types'
import { batchingFields, identityFields } from '../fields'
import { isoTimestamp, performMany, performOne } from '../pipeline'

export function toProductEvent(payload: Payload): ProductEvent {
  const domain = [payload.traits?.domain, payload.traits?.website].find(
    (value): value is string => typeof value === 'string' && value.trim() !== ''
  )
  return {
    kind: 'group',
    messageId: payload.message_id,
    timestamp: isoTimestamp(payload.timestamp),
    email: payload.email ?? undefined,
    userId: payload.user_id ?? undefined,
    traits: payload.traits ?? undefined,
    company: { groupId: payload.group_id, domain }
  }
}

const action: ActionDefinition<Settings, Payload> = {
  title: 'Group Company',
  description:
    "Associates the user's contact with a HubSpot company (keyed by the group id), records the company traits the model reads, and updates the company's name, domain and account score.",
  defaultSubscription: 'type = "group"',
  fields: {
    ...identityFields(['$.context.traits.email', '$.properties.email']),
    group_id: {
      label: 'Company (group) ID',
      description: "The account's id in your product: pqlkit's key for the HubSpot company (pqlkit_company_key).",
      type: 'string',
      required: true,
      default: { '@path': '$.groupId' }
    },
    traits: {
      label: 'Company traits',
      description: "The account's traits: name, domain or website, and those the model's company `trait:` signals read.",
      type: 'object',
      default: { '@path': '$.traits' }
    },
    ...batchingFields
  },
  perform: (_request, { settings, payload }) => performOne(settings, toProductEvent(payload)),
  performBatch: (_request, { settings, payload }) => performMany(settings, payload, toProductEvent)
}

export default action
