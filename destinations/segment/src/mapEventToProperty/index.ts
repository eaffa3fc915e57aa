import { ActionDefinition, DynamicFieldResponse, InputField, PayloadValidationError } from '@segment/actions-core'
import { AGGREGATIONS, Aggregation, formatIssue, Mapping, ModelError, parseMappings, ProductEvent, VALUED, WINDOWED } from '@pqlkit/core'
import type { Settings } from '../generated-types'
import type { Payload } from './generated-types'
import { batchingFields, identityFields } from '../fields'
import { hubspotBaseUrl, isoTimestamp, performMany, performOne } from '../pipeline'

/** RevOps picks these from a list: a literal, never a mapped value, so every event of a subscription has the same definition. */
const LITERAL_ONLY: InputField['disabledInputMethods'] = ['variable', 'function', 'enrichment']

const aggregationIs = (aggregations: ReadonlySet<Aggregation>) => ({
  match: 'any' as const,
  conditions: [{ fieldKey: 'aggregation', operator: 'is' as const, value: [...aggregations] }]
})

/**
 * The mapping a payload stands for (docs/mappings.md). Which events count is the subscription's
 * trigger, so its matcher is every event delivered for it (`event: "*"`, counted per mapping);
 * the value Segment resolved travels as the event's `value` property.
 */
export function mappingOf(payload: Payload): Mapping {
  const aggregation = payload.aggregation as Aggregation
  try {
    const [mapping] = parseMappings([
      {
        property: payload.property,
        object: payload.object,
        aggregation,
        event: '*',
        ...(WINDOWED.has(aggregation) && payload.window ? { window: payload.window } : {}),
        ...(VALUED.has(aggregation) ? { value: 'value' } : {})
      }
    ])
    return mapping
  } catch (error) {
    if (!(error instanceof ModelError)) throw error
    throw new PayloadValidationError(`This mapping is incomplete: ${error.issues.map((issue) => formatIssue(issue, 'mapping')).join('; ')}`)
  }
}

export function toProductEvent(payload: Payload): ProductEvent {
  return {
    kind: 'track',
    messageId: payload.message_id,
    timestamp: isoTimestamp(payload.timestamp),
    email: payload.email ?? undefined,
    userId: payload.user_id ?? undefined,
    event: payload.event_name,
    properties: VALUED.has(payload.aggregation as Aggregation) ? { value: payload.value } : undefined,
    company: payload.group_id ? { groupId: payload.group_id } : undefined,
    mapping: payload.property
  }
}

type HubSpotProperty = { name: string; label?: string; type?: string; groupName?: string; hidden?: boolean; modificationMetadata?: { readOnlyValue?: boolean } }

const action: ActionDefinition<Settings, Payload> = {
  title: 'Map Event to Property',
  description:
    'Keeps one HubSpot property up to date from the events this mapping\'s trigger selects: a flag, a count, a sum, distinct values, active days, first or last seen, or the latest value, over a window if you like. The PQL model\'s scores can use it by its property name.',
  fields: {
    property: {
      label: 'HubSpot property',
      description:
        'The property to keep up to date: pick one of the portal\'s properties, or type the internal name of a new one (lower-case letters, digits and _), which pqlkit creates at the first event.',
      type: 'string',
      required: true,
      dynamic: true,
      disabledInputMethods: LITERAL_ONLY
    },
    object: {
      label: 'Contact or company',
      description: 'Whether the property belongs to the contact who sent the event or to their company (the group, or the company the contact was last seen with).',
      type: 'string',
      required: true,
      choices: [
        { value: 'contact', label: 'Contact: the person who did it' },
        { value: 'company', label: 'Company: the account they did it for' }
      ],
      default: 'contact',
      disabledInputMethods: LITERAL_ONLY
    },
    aggregation: {
      label: 'Aggregation',
      description: 'What to keep of the events: each choice says what the property will hold.',
      type: 'string',
      required: true,
      choices: Object.entries(AGGREGATIONS).map(([value, label]) => ({ value, label })),
      default: 'count',
      disabledInputMethods: LITERAL_ONLY
    },
    window: {
      label: 'Window',
      description:
        'Only count the events of the last N days (UTC days, today included), such as 7d or 30d, at most 90d. Leave empty for all time. Active days needs one.',
      type: 'string',
      depends_on: aggregationIs(WINDOWED),
      required: { conditions: [{ fieldKey: 'aggregation', operator: 'is', value: 'active_days' }] },
      disabledInputMethods: LITERAL_ONLY
    },
    value: {
      label: 'Value',
      description: 'The value of the event to sum, count distinct values of, or keep the latest of; usually one of its properties.',
      type: 'string',
      depends_on: aggregationIs(VALUED),
      default: { '@path': '$.properties.value' }
    },
    ...identityFields(['$.context.traits.email', '$.properties.email']),
    event_name: {
      label: 'Event name',
      description: 'The event\'s name, kept with it in pqlkit\'s reports. Which events count is set by the trigger, not by this field.',
      type: 'string',
      required: true,
      default: { '@path': '$.event' },
      unsafe_hidden: true
    },
    group_id: {
      label: 'Company (group) ID',
      description: 'The account the event belongs to, for a company property.',
      type: 'string',
      default: { '@path': '$.context.groupId' }
    },
    ...batchingFields
  },
  dynamicFields: {
    property: async (request, { settings, payload }): Promise<DynamicFieldResponse> => {
      const objectType = payload?.object === 'company' ? 'companies' : 'contacts'
      const response = await request<{ results?: HubSpotProperty[]; message?: string }>(`${hubspotBaseUrl()}/crm/v3/properties/${objectType}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${settings.accessToken}` },
        throwHttpErrors: false
      })
      if (response.status >= 300) {
        return { choices: [], error: { code: String(response.status), message: `HubSpot did not list the ${objectType} properties (${response.status}): check the access token and its crm.schemas scopes` } }
      }
      const writable = (response.data.results ?? []).filter((property) => !property.hidden && !property.modificationMetadata?.readOnlyValue)
      return {
        choices: writable
          .map((property) => ({
            label: property.label || property.name,
            value: property.name,
            description: `${property.name}: ${property.type ?? 'property'}${property.groupName ? ` in ${property.groupName}` : ''}`
          }))
          .sort((a, b) => a.label.localeCompare(b.label))
      }
    }
  },
  perform: (_request, { settings, payload }) => performOne(settings, toProductEvent(payload), mappingOf(payload)),
  performBatch: (_request, { settings, payload }) => performMany(settings, payload, toProductEvent, mappingOf(payload[0]))
}

export default action
