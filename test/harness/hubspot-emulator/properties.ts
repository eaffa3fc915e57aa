import { HubSpotError, invalidInput, validation } from './errors'

/** Property definitions and groups (HubSpot's `Property`/`PropertyGroup` models) and value checks. */
export type ObjectType = 'contacts' | 'companies' | 'tasks'

/** HubSpot's object type ids, used in its messages ("non-unique 0-1 property"). */
export const TYPE_IDS: Record<ObjectType, string> = { contacts: '0-1', companies: '0-2', tasks: '0-27' }

/** The object types the emulator serves, by the path segment HubSpot takes. */
export function objectTypeOf(segment: string): ObjectType | undefined {
  return Object.hasOwn(TYPE_IDS, segment) ? (segment as ObjectType) : undefined
}

export type PropertyType = 'string' | 'number' | 'bool' | 'datetime' | 'date' | 'enumeration'
export type PropertyOption = { label: string; value: string; displayOrder: number; hidden: boolean; description?: string }

export type PropertyDefinition = {
  name: string; label: string; type: PropertyType; fieldType: string; description: string; groupName: string
  options: PropertyOption[]; displayOrder: number; hasUniqueValue: boolean; hidden: boolean; formField: boolean
  calculated: boolean; externalOptions: boolean; hubspotDefined?: boolean
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean }
  createdAt: string; updatedAt: string; archived: false
}

export type PropertyGroup = { name: string; label: string; displayOrder: number; archived: false }

/** Valid `type`/`fieldType` pairs (HubSpot's property docs). */
const FIELD_TYPES: Record<PropertyType, string[]> = {
  string: ['text', 'textarea', 'phonenumber', 'html', 'file'],
  number: ['number', 'calculation_equation'],
  bool: ['booleancheckbox'],
  datetime: ['date'],
  date: ['date'],
  enumeration: ['select', 'radio', 'checkbox', 'booleancheckbox']
}

const BOOL_OPTIONS: PropertyOption[] = [
  { label: 'Yes', value: 'true', displayOrder: 0, hidden: false },
  { label: 'No', value: 'false', displayOrder: 1, hidden: false }
]

const options = (...values: string[]): PropertyOption[] =>
  values.map((value, displayOrder) => ({ label: value.charAt(0) + value.slice(1).toLowerCase().replace(/_/g, ' '), value, displayOrder, hidden: false }))

type Seed = [name: string, label: string, type: PropertyType, fieldType: string, extra?: Partial<PropertyDefinition>]

const SYSTEM: Seed[] = [
  ['hs_object_id', 'Record ID', 'number', 'number', { modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: true } }],
  ['createdate', 'Create Date', 'datetime', 'date'],
  ['lastmodifieddate', 'Last Modified Date', 'datetime', 'date', { modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: true } }]
]
const OWNER: Seed = ['hubspot_owner_id', 'Owner', 'enumeration', 'select', { externalOptions: true }]

const BUILT_IN: Record<ObjectType, { group: PropertyGroup; seeds: Seed[] }> = {
  contacts: {
    group: { name: 'contactinformation', label: 'Contact information', displayOrder: 0, archived: false },
    seeds: [
      ['email', 'Email', 'string', 'text'],
      ['firstname', 'First Name', 'string', 'text'],
      ['lastname', 'Last Name', 'string', 'text'],
      ['jobtitle', 'Job Title', 'string', 'text'],
      ['company', 'Company Name', 'string', 'text'],
      ['lifecyclestage', 'Lifecycle Stage', 'enumeration', 'radio', {
        options: options('subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer', 'evangelist', 'other')
      }],
      OWNER,
      ...SYSTEM
    ]
  },
  companies: {
    group: { name: 'companyinformation', label: 'Company information', displayOrder: 0, archived: false },
    seeds: [['name', 'Company name', 'string', 'text'], ['domain', 'Company Domain Name', 'string', 'text'], OWNER, ...SYSTEM]
  },
  tasks: {
    group: { name: 'taskinformation', label: 'Task information', displayOrder: 0, archived: false },
    seeds: [
      ['hs_task_subject', 'Task Title', 'string', 'text'],
      ['hs_task_body', 'Task Notes', 'string', 'html'],
      ['hs_timestamp', 'Due date', 'datetime', 'date'],
      ['hs_task_priority', 'Priority', 'enumeration', 'select', { options: options('NONE', 'LOW', 'MEDIUM', 'HIGH') }],
      ['hs_task_status', 'Task Status', 'enumeration', 'select', { options: options('NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'COMPLETED', 'DEFERRED') }],
      ['hs_task_type', 'Task Type', 'enumeration', 'select', { options: options('TODO', 'CALL', 'EMAIL', 'LINKED_IN', 'MEETING') }],
      OWNER,
      ...SYSTEM
    ]
  }
}

export function builtInGroups(objectType: ObjectType): PropertyGroup[] {
  return [{ ...BUILT_IN[objectType].group }]
}

export function builtInProperties(objectType: ObjectType, now: string): PropertyDefinition[] {
  const { group, seeds } = BUILT_IN[objectType]
  return seeds.map(([name, label, type, fieldType, extra], displayOrder) => ({
    ...{ name, label, type, fieldType, description: '', groupName: group.name, options: [], displayOrder, hasUniqueValue: false, hidden: false },
    ...{ formField: type !== 'datetime' && name !== 'hs_object_id', calculated: false, externalOptions: false, hubspotDefined: true },
    ...{ modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: false }, createdAt: now, updatedAt: now, archived: false },
    ...extra
  }))
}

/** A property that identifies a record in upserts and batch reads: `email` on contacts, or unique. */
export function isUniqueKey(objectType: ObjectType, property: PropertyDefinition | undefined): boolean {
  return !!property && (property.hasUniqueValue || (objectType === 'contacts' && property.name === 'email'))
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** `POST /crm/v3/properties/{objectType}` body (`PropertyCreate`) to a definition; 400 when invalid. */
export function parsePropertyCreate(input: unknown, groups: Set<string>, now: string): PropertyDefinition {
  if (!isObject(input)) throw invalidInput('Cannot build PropertyCreate from a non-object')
  const missing = ['name', 'label', 'type', 'fieldType', 'groupName'].filter((key) => typeof input[key] !== 'string' || input[key] === '')
  if (missing.length > 0) throw invalidInput(`Cannot build PropertyCreate, some of required attributes are not set [${missing.join(', ')}]`)
  const { name, label, type, fieldType, groupName } = input as Record<string, string>
  if (!/^[a-z][a-z0-9_]{0,99}$/.test(name)) {
    throw validation(`Property name '${name}' is invalid: it must start with a lower-case letter and hold only lower-case letters, digits and underscores (at most 100 characters)`)
  }
  if (!(type in FIELD_TYPES)) throw invalidInput(`Cannot deserialize value of type \`PropertyType\` from String "${type}": not one of the values accepted for Enum class: [${Object.keys(FIELD_TYPES).join(', ')}]`)
  if (!FIELD_TYPES[type as PropertyType].includes(fieldType)) {
    throw validation(`Property ${name}: fieldType '${fieldType}' is not valid for type '${type}' (valid: ${FIELD_TYPES[type as PropertyType].join(', ')})`)
  }
  if (!groups.has(groupName)) throw validation(`Property group '${groupName}' does not exist`)
  const given = input.options
  if (given !== undefined && !Array.isArray(given)) throw invalidInput('options must be an array of { label, value }')
  const parsed = (given ?? []).map((option: unknown, index: number): PropertyOption => {
    if (!isObject(option) || typeof option.label !== 'string' || typeof option.value !== 'string') {
      throw invalidInput(`Cannot build OptionInput, some of required attributes are not set [label, value] (option ${index})`)
    }
    return {
      label: option.label,
      value: option.value,
      displayOrder: typeof option.displayOrder === 'number' ? option.displayOrder : index,
      hidden: option.hidden === true,
      ...(typeof option.description === 'string' ? { description: option.description } : {})
    }
  })
  if (type === 'enumeration' && parsed.length === 0) throw validation(`Property ${name}: an enumeration property needs at least one option`)
  const values = parsed.map((option) => option.value)
  const duplicate = values.find((value, index) => values.indexOf(value) !== index)
  if (duplicate !== undefined) throw validation(`Property ${name}: the option value '${duplicate}' is used more than once`)
  const hasUniqueValue = input.hasUniqueValue === true
  if (hasUniqueValue && type !== 'string' && type !== 'number') {
    throw validation(`Property ${name}: only string and number properties can require unique values`)
  }
  const defaults = { calculated: false, externalOptions: false, modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false } }
  return {
    ...{ name, label, type: type as PropertyType, fieldType, description: typeof input.description === 'string' ? input.description : '', groupName },
    options: type === 'bool' && parsed.length === 0 ? BOOL_OPTIONS.map((o) => ({ ...o })) : parsed,
    ...{ displayOrder: typeof input.displayOrder === 'number' ? input.displayOrder : -1, hasUniqueValue, hidden: input.hidden === true, formField: input.formField === true },
    ...{ ...defaults, createdAt: now, updatedAt: now, archived: false }
  }
}

/**
 * `PATCH /crm/v3/properties/{objectType}/{propertyName}` (HubSpot's "Update a property"): the
 * given fields of a PropertyUpdate replace the property's (`options` as a whole list); the
 * name cannot change; a type change must come with a valid fieldType for it. 400 when invalid.
 */
export function parsePropertyUpdate(current: PropertyDefinition, input: unknown, groups: Set<string>, now: string): PropertyDefinition {
  if (!isObject(input)) throw invalidInput('Cannot build PropertyUpdate from a non-object')
  if (current.modificationMetadata.readOnlyDefinition) throw validation(`Property ${current.name} is read-only: its definition cannot be changed`)
  const merged: Record<string, unknown> = { ...current, ...input, name: current.name }
  if (input.type !== undefined && input.fieldType === undefined && !FIELD_TYPES[input.type as PropertyType]?.includes(current.fieldType)) {
    throw validation(`Property ${current.name}: changing its type to '${String(input.type)}' needs a fieldType valid for it`)
  }
  const updated = parsePropertyCreate({ ...merged, options: input.options ?? (input.type === undefined ? current.options : undefined) }, groups, current.createdAt)
  return { ...updated, createdAt: current.createdAt, updatedAt: now }
}

/** `POST /crm/v3/properties/{objectType}/groups` body to a group; 400 when invalid. */
export function parseGroupCreate(input: unknown): PropertyGroup {
  if (!isObject(input)) throw invalidInput('Cannot build PropertyGroupCreate from a non-object')
  const missing = ['name', 'label'].filter((key) => typeof input[key] !== 'string' || input[key] === '')
  if (missing.length > 0) throw invalidInput(`Cannot build PropertyGroupCreate, some of required attributes are not set [${missing.join(', ')}]`)
  const name = input.name as string
  if (!/^[a-z][a-z0-9_]{0,99}$/.test(name)) throw validation(`Property group name '${name}' is invalid`)
  return { name, label: input.label as string, displayOrder: typeof input.displayOrder === 'number' ? input.displayOrder : -1, archived: false }
}

/**
 * One invalid value, in the shape HubSpot lists inside "Property values were not valid: [...]"
 * (`localizedErrorMessage` and `portalId` are added by the store).
 */
export type ValueProblem = { isValid: false; message: string; error: string; name: string }

export const MAX_STRING = 65_536
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const EPOCH_MS = /^-?\d+$/
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

const problem = (name: string, error: string, message: string): ValueProblem => ({ isValid: false, message, error, name })

/**
 * Checks one written value against its property and gives the string HubSpot stores: numbers
 * as written, booleans lower-case, datetimes as ISO 8601 UTC with milliseconds, dates as
 * YYYY-MM-DD. `''` (and null) clear the property. Since January 2025 HubSpot refuses leading or
 * trailing whitespace in non-string values (LEADING_TRAILING_WHITESPACE).
 */
export function checkValue(objectType: ObjectType, name: string, property: PropertyDefinition | undefined, raw: unknown): { value: string } | ValueProblem {
  if (!property) return problem(name, 'PROPERTY_DOESNT_EXIST', `Property "${name}" does not exist`)
  if (property.modificationMetadata.readOnlyValue) return problem(name, 'READ_ONLY_VALUE', `${name} is a read only property; its value cannot be set.`)
  if (raw === null || raw === '') return { value: '' }
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
    return problem(name, 'INVALID_TYPE', `${JSON.stringify(raw)} is not a valid value for ${name}: values are strings`)
  }
  const value = String(raw)
  if (property.type !== 'string' && value.trim() !== value) {
    return problem(name, 'LEADING_TRAILING_WHITESPACE', `"${value}" includes leading or trailing whitespace.`)
  }
  switch (property.type) {
    case 'number':
      return NUMBER.test(value) ? { value } : problem(name, 'INVALID_NUMBER', `${value} was not a valid number.`)
    case 'bool':
      return /^(true|false)$/i.test(value) ? { value: value.toLowerCase() } : problem(name, 'INVALID_BOOLEAN', `${value} was not a valid boolean (true or false).`)
    case 'datetime':
    case 'date': {
      // A date-time without an offset is read as UTC.
      const zoned = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value}Z` : value
      const ms = EPOCH_MS.test(value) ? Number(value) : ISO_DATE_TIME.test(value) ? Date.parse(zoned) : NaN
      if (!Number.isFinite(ms) || Number.isNaN(new Date(ms).getTime())) {
        return problem(name, 'INVALID_DATE', `${value} was not a valid ${property.type}: use epoch milliseconds or an ISO 8601 ${property.type === 'date' ? 'date' : 'date-time'}.`)
      }
      if (property.type === 'datetime') return { value: new Date(ms).toISOString() }
      if (ms % 86_400_000 !== 0) return problem(name, 'INVALID_DATE', `${value} is not midnight UTC; a date property holds whole days.`)
      return { value: new Date(ms).toISOString().slice(0, 10) }
    }
    case 'enumeration': {
      if (property.externalOptions) {
        return /^\d+$/.test(value) ? { value } : problem(name, 'INVALID_INTEGER', `${value} was not a valid integer (for owner ID).`)
      }
      const allowed = property.options.map((option) => option.value)
      const chosen = property.fieldType === 'checkbox' ? value.split(';') : [value]
      const wrong = chosen.find((choice) => !allowed.includes(choice))
      return wrong === undefined ? { value } : problem(name, 'INVALID_OPTION', `${wrong} was not one of the allowed options: [${allowed.join(', ')}]`)
    }
    default:
      if (value.length > MAX_STRING) return problem(name, 'STRING_TOO_LONG', `The value of ${name} is ${value.length} characters long; the limit is ${MAX_STRING}.`)
      if (objectType === 'contacts' && name === 'email' && !EMAIL.test(value.trim())) {
        return problem(name, 'INVALID_EMAIL', `Email address ${value} is invalid`)
      }
      return { value: objectType === 'contacts' && name === 'email' ? value.trim().toLowerCase() : value }
  }
}

/** Throws the 400 HubSpot gives when any value of a request is invalid. */
export function rejectProblems(problems: { id: string; problem: ValueProblem }[], portalId: number): void {
  if (problems.length === 0) return
  const details = problems.map(({ problem: p }) => ({ ...p, localizedErrorMessage: p.message, portalId }))
  throw new HubSpotError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(details)}`, {
    // HubSpot's docs do not show the context of a batch-wide validation error; the emulator
    // names the offending inputs' ids (as sent) under `ids`, like its 207 errors.
    context: { ids: [...new Set(problems.map((p) => p.id))] },
    errors: problems.map(({ problem: p }) => ({ message: p.message, code: p.error, in: p.name }))
  })
}
