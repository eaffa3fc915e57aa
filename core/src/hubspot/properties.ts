import type { Model, Section, Signal, SubjectKind } from '../model/compile'
import type { PropertyValue } from '../engine/evaluate'

/** A HubSpot property pqlkit creates (SPEC §5: the right type/fieldType pair for each value). */
export type PropertyDefinition = {
  name: string
  label: string
  description: string
  groupName: string
  type: 'number' | 'bool' | 'datetime' | 'string' | 'enumeration'
  fieldType: 'number' | 'booleancheckbox' | 'date' | 'text' | 'select'
  options?: { label: string; value: string; displayOrder: number; hidden: boolean }[]
  hasUniqueValue?: boolean
  formField: boolean
}

export const PRODUCT_GROUP = { name: 'pqlkit_product_usage', label: 'Product usage (pqlkit)' }
export const INTERNALS_GROUP = { name: 'pqlkit_internals', label: 'pqlkit internals' }
/** Every subject's latest event time: what the sweep searches by, whatever the model's signals. */
export const LAST_EVENT_PROPERTY = 'pqlkit_last_event_at'
/** Each write's contribution, read with its history (docs/architecture.md, "State"). */
export const CONTRIBUTION_PROPERTY = 'pqlkit_contribution'
/** A worker's claim of the hand-off crossings it decided, read with its history (pipeline/handoff-claims.ts). */
export const HANDOFF_CLAIM_PROPERTY = 'pqlkit_handoff_claim'

export type ObjectType = 'contacts' | 'companies'
export const OBJECT_TYPES: Record<SubjectKind, ObjectType> = { contact: 'contacts', company: 'companies' }

const TYPES = {
  number: { type: 'number', fieldType: 'number' },
  bool: { type: 'bool', fieldType: 'booleancheckbox' },
  datetime: { type: 'datetime', fieldType: 'date' },
  string: { type: 'string', fieldType: 'text' }
} as const
const BOOL_OPTIONS = [
  { label: 'Yes', value: 'true', displayOrder: 0, hidden: false },
  { label: 'No', value: 'false', displayOrder: 1, hidden: false }
]

function title(name: string): string {
  const text = name.replace(/_/g, ' ')
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function signalType(signal: Signal): keyof typeof TYPES {
  if (signal.kind === 'trait' || signal.kind === 'latest') return signal.traitType ?? 'string'
  if (signal.kind === 'flag') return 'bool'
  if (signal.kind === 'first_seen' || signal.kind === 'last_seen') return 'datetime'
  return 'number'
}

function product(name: string, type: keyof typeof TYPES, description: string): PropertyDefinition {
  return {
    name,
    label: title(name),
    description,
    groupName: PRODUCT_GROUP.name,
    ...TYPES[type],
    ...(type === 'bool' ? { options: BOOL_OPTIONS } : {}),
    formField: false
  }
}

function sectionProperties(section: Section): PropertyDefinition[] {
  const properties = section.signals.map((signal) => product(signal.name, signalType(signal), `pqlkit signal: ${signal.source}`))
  for (const score of section.scores) {
    properties.push(product(score.property, 'number', 'pqlkit score'))
    if (score.tiers.length > 0) {
      properties.push({
        ...product(`${score.property}_tier`, 'string', `pqlkit tier of ${score.property}`),
        type: 'enumeration',
        fieldType: 'select',
        options: score.tiers.map((tier, index) => ({ label: tier.name, value: tier.name, displayOrder: index, hidden: false }))
      })
    }
    properties.push(product(`${score.property}_reasons`, 'string', `Why ${score.property} is what it is`))
    properties.push(product(`${score.property}_updated_at`, 'datetime', `When ${score.property} last changed`))
  }
  return properties
}

function internal(name: string, description: string, unique: boolean, type: 'string' | 'datetime' = 'string'): PropertyDefinition {
  return {
    name,
    label: title(name),
    description,
    groupName: INTERNALS_GROUP.name,
    ...TYPES[type],
    ...(unique ? { hasUniqueValue: true } : {}),
    formField: false
  }
}

/** Every property the model needs on an object type, with pqlkit's own internals. */
export function modelProperties(model: Model, objectType: ObjectType): PropertyDefinition[] {
  const section = objectType === 'contacts' ? model.contact : model.company
  if (!section) return []
  const internals = [
    internal('pqlkit_state', 'pqlkit aggregation state (do not edit)', false),
    internal(CONTRIBUTION_PROPERTY, 'What pqlkit last added to this record (do not edit): repairs a concurrent write', false),
    internal(LAST_EVENT_PROPERTY, 'When the latest event pqlkit applied happened (the sweep finds subjects by it)', false, 'datetime')
  ]
  internals.push(
    ...(objectType === 'contacts'
      ? [
          internal('pqlkit_user_id', 'Product user id, for events without an email', true),
          internal(HANDOFF_CLAIM_PROPERTY, 'The hand-offs pqlkit last claimed for this contact (do not edit)', false)
        ]
      : [internal('pqlkit_company_key', 'Group id or email domain pqlkit knows this company by', true)])
  )
  return [...sectionProperties(section), ...internals]
}

export function propertyTypes(model: Model, objectType: ObjectType): Map<string, PropertyDefinition['type']> {
  return new Map(modelProperties(model, objectType).map((property) => [property.name, property.type]))
}

/** SPEC §5: values go to HubSpot as strings; an unset value clears the property (''). */
export function toHubSpotValue(value: PropertyValue | undefined): string {
  if (value === undefined) return ''
  return typeof value === 'string' ? value : String(value)
}

/**
 * Whether HubSpot's stored string already says `value`, for the type: HubSpot may format
 * datetimes and numbers differently from how they were written.
 */
export function sameValue(type: PropertyDefinition['type'] | undefined, stored: string | null | undefined, value: string): boolean {
  const current = stored ?? ''
  if (current === value) return true
  if (current === '' || value === '') return false
  switch (type) {
    case 'number':
      return Number(current) === Number(value)
    case 'datetime':
      return Date.parse(current) === Date.parse(value) || Number(current) === Date.parse(value)
    case 'bool':
      return current.toLowerCase() === value.toLowerCase()
    default:
      return false
  }
}
