import type { InputField } from '@segment/actions-core'

/** A path's value if it exists, else the next candidate's: `@if` chained. */
function firstOf(paths: string[]): InputField['default'] {
  const [first, ...rest] = paths
  if (rest.length === 0) return { '@path': first }
  return { '@if': { exists: { '@path': first }, then: { '@path': first }, else: firstOf(rest) } } as InputField['default']
}

/** Fields every action shares: identity, dedup key, time, batching. */
export const identityFields = (emailPaths: string[]): Record<string, InputField> => ({
  email: {
    label: 'Email',
    description: `The contact's email, pqlkit's key for HubSpot contacts. By default the first of ${emailPaths.join(', ')}.`,
    type: 'string',
    default: firstOf(emailPaths)
  },
  user_id: {
    label: 'User ID',
    description:
      'Your product user id. pqlkit stores it on the contact (pqlkit_user_id) so later events with only a user id find the same contact.',
    type: 'string',
    default: { '@path': '$.userId' }
  },
  message_id: {
    label: 'Message ID',
    description: "The event's id: pqlkit never counts the same message id twice for a subject, so re-deliveries are safe.",
    type: 'string',
    required: true,
    default: { '@path': '$.messageId' }
  },
  timestamp: {
    label: 'Timestamp',
    description: 'When the event happened (not when it was received): windows and decay are measured from it.',
    type: 'datetime',
    required: true,
    default: { '@path': '$.timestamp' }
  }
})

export const batchingFields: Record<string, InputField> = {
  enable_batching: {
    label: 'Batch events',
    description: 'Send events in batches: one HubSpot read and one write per 100 subjects instead of per event.',
    type: 'boolean',
    default: true
  },
  batch_size: {
    label: 'Batch size',
    description: 'At most this many events per batch.',
    type: 'number',
    minimum: 1,
    maximum: 1000,
    default: 1000,
    unsafe_hidden: true
  }
}
