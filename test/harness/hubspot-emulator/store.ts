import { HubSpotError, RecordError, injectedRecordError, invalidInput, notFound, validation } from './errors'
import { builtInGroups, builtInProperties, checkValue, isUniqueKey, ObjectType, parseGroupCreate, parsePropertyCreate, parsePropertyUpdate } from './properties'
import { PropertyDefinition, PropertyGroup, rejectProblems, TYPE_IDS, ValueProblem } from './properties'
import { search } from './search'

/** The in-memory CRM: property definitions, groups, records and associations. */
export type StoredRecord = { id: string; properties: Record<string, string>; createdAt: string; updatedAt: string; associations?: RecordAssociation[] }
export type RecordAssociation = { toObjectType: ObjectType; toId: string; associationCategory: string; associationTypeId: number }
/** A v4 default contact→company association (typeId 279; HubSpot keeps the reverse, 280, implicitly). */
export type Association = { fromObjectType: 'contacts'; from: string; toObjectType: 'companies'; to: string; associationCategory: 'HUBSPOT_DEFINED'; associationTypeId: number }

type WithType<T> = T & { objectType: ObjectType }
export type EmulatorDump = {
  contacts: StoredRecord[]
  companies: StoredRecord[]
  tasks: StoredRecord[]
  associations: Association[]
  properties: WithType<PropertyDefinition>[]
  groups: WithType<PropertyGroup>[]
  /** Custom behavioral events received (`POST /events/v3/send`). */
  events: Record<string, unknown>[]
}

/** An HTTP answer of a handler. */
export type Answer = { status: number; body: unknown }
/** Whether fault injection fails the record at this index of the batch. */
export type RecordFaults = (index: number) => boolean

export const BATCH_LIMIT = 100
/**
 * HubSpot refuses a batch read asking for property history with more than 50 inputs: "The
 * maximum number of inputs supported in a batch request for property histories is 50."
 */
export const HISTORY_BATCH_LIMIT = 50
/** How many versions of a property the emulator keeps (HubSpot does not document its own cap). */
export const DEFAULT_HISTORY_LIMIT = 20
export const ASSOCIATION_BATCH_LIMIT = 2_000
const SYSTEM = ['hs_object_id', 'createdate', 'lastmodifieddate']
/** What HubSpot returns when a read names no properties. */
const DEFAULT_PROPERTIES: Record<ObjectType, string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_object_id', 'lastmodifieddate', 'name'],
  tasks: ['createdate', 'hs_object_id', 'hs_task_subject', 'hs_timestamp', 'lastmodifieddate']
}
const SINGULAR: Record<ObjectType, string> = { contacts: 'CONTACT', companies: 'COMPANY', tasks: 'TASK' }
/** The ids of a v4 association list's page: at most 500 (HubSpot's default and maximum). */
export const ASSOCIATION_PAGE_LIMIT = 500
/** HubSpot-defined association type ids, by (from, to). */
const ASSOCIATION_TYPES: Record<string, { to: ObjectType; id: number }[]> = {
  contacts: [{ to: 'companies', id: 279 }],
  companies: [{ to: 'contacts', id: 280 }],
  tasks: [{ to: 'contacts', id: 204 }, { to: 'companies', id: 192 }]
}
/** The reverse of a task's association (HubSpot's table: contact to task 203, company to task 191). */
const TO_TASK: Record<string, number> = { contacts: 203, companies: 191 }

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const isId = (value: unknown): value is string => typeof value === 'string' && value !== ''

/** `body.inputs`, checked against the batch limit. */
function inputsOf(body: unknown, limit = BATCH_LIMIT): Record<string, unknown>[] {
  if (!isObject(body) || !Array.isArray(body.inputs)) throw invalidInput('Cannot build a batch input: `inputs` must be an array')
  if (body.inputs.length > limit) {
    throw validation(`Too many inputs: ${body.inputs.length}. A batch takes at most ${limit} inputs.`, { context: { limit: [String(limit)] } })
  }
  return body.inputs.map((input, index) => {
    if (!isObject(input)) throw invalidInput(`inputs[${index}] must be an object`)
    return input
  })
}

function batchAnswer(startedAt: string, results: unknown[], errors: RecordError[]): Answer {
  const base = { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() }
  return errors.length === 0 ? { status: 200, body: base } : { status: 207, body: { ...base, numErrors: errors.length, errors } }
}

/** One version of a property's value, as `propertiesWithHistory` returns it (`ValueWithTimestamp`). */
export type PropertyVersion = { value: string; timestamp: string; sourceType: string; sourceId?: string }

/** A write to one record: an existing record or a new one, and the values to apply. */
/** `sent`: the properties the input itself carried, the only ones its answer shows (with the system ones). */
type Write = { index: number; label: string; record?: StoredRecord; values: Record<string, string>; sent?: string[] }

/** A looked-up value as HubSpot compares it: emails case-insensitively. */
const normalised = (property: string, value: string) => (property === 'email' ? value.trim().toLowerCase() : value)

export class Store {
  private readonly definitions = new Map<ObjectType, Map<string, PropertyDefinition>>()
  private readonly groups = new Map<ObjectType, Map<string, PropertyGroup>>()
  private readonly records = new Map<ObjectType, Map<string, StoredRecord>>()
  private readonly associations = new Map<string, Association>()
  /** Per type and property looked up by value: records by normalised value, built at the first lookup, kept up to date by writes. */
  private readonly indexes = new Map<string, Map<string, StoredRecord>>()
  private readonly events: Record<string, unknown>[] = []
  /** Each record's property versions, newest first: `type/id` → property → versions. */
  private readonly history = new Map<string, Map<string, PropertyVersion[]>>()
  private nextId = 1001

  /** `historyLimit`: the versions kept per property (the oldest are forgotten first). */
  constructor(
    readonly portalId: number,
    private readonly historyLimit = DEFAULT_HISTORY_LIMIT
  ) {
    this.reset()
  }

  /** Back to a fresh portal: only HubSpot's own properties and groups. */
  reset(): void {
    const now = new Date().toISOString()
    for (const type of ['contacts', 'companies', 'tasks'] as ObjectType[]) {
      this.definitions.set(type, new Map(builtInProperties(type, now).map((p) => [p.name, p])))
      this.groups.set(type, new Map(builtInGroups(type).map((g) => [g.name, g])))
      this.records.set(type, new Map())
    }
    this.associations.clear()
    this.indexes.clear()
    this.history.clear()
    this.events.length = 0
    this.nextId = 1001
  }

  private defs(type: ObjectType): Map<string, PropertyDefinition> {
    return this.definitions.get(type)!
  }

  private all(type: ObjectType): Map<string, StoredRecord> {
    return this.records.get(type)!
  }

  // ---- properties and groups ------------------------------------------------------------

  listProperties(type: ObjectType): Answer {
    return { status: 200, body: { results: [...this.defs(type).values()] } }
  }

  getProperty(type: ObjectType, name: string): Answer {
    const property = this.defs(type).get(name)
    if (!property) throw notFound(`Unable to find property ${name} for object type ${TYPE_IDS[type]}`)
    return { status: 200, body: property }
  }

  private addProperty(type: ObjectType, input: unknown): PropertyDefinition {
    const property = parsePropertyCreate(input, new Set(this.groups.get(type)!.keys()), new Date().toISOString())
    if (this.defs(type).has(property.name)) {
      throw new HubSpotError(409, 'OBJECT_ALREADY_EXISTS', `Property named '${property.name}' already exists.`, {
        subCategory: 'PropertyValidationError.PROPERTY_EXISTS',
        context: { name: [property.name] }
      })
    }
    this.defs(type).set(property.name, property)
    return property
  }

  createProperty(type: ObjectType, input: unknown): Answer {
    return { status: 201, body: this.addProperty(type, input) }
  }

  /** `PATCH /crm/v3/properties/{objectType}/{propertyName}`: 200 with the updated property. */
  updateProperty(type: ObjectType, name: string, input: unknown): Answer {
    const current = this.defs(type).get(name)
    if (!current) throw notFound(`Unable to find property ${name} for object type ${TYPE_IDS[type]}`)
    const updated = parsePropertyUpdate(current, input, new Set(this.groups.get(type)!.keys()), new Date().toISOString())
    this.defs(type).set(name, updated)
    return { status: 200, body: updated }
  }

  /** `DELETE /crm/v3/properties/{objectType}/{propertyName}`: archives it (204); records keep no value for it. */
  archiveProperty(type: ObjectType, name: string): Answer {
    const current = this.defs(type).get(name)
    if (!current) throw notFound(`Unable to find property ${name} for object type ${TYPE_IDS[type]}`)
    if (!current.modificationMetadata.archivable) throw validation(`Property ${name} cannot be archived`)
    this.defs(type).delete(name)
    this.indexes.delete(`${type}\u0000${name}`)
    for (const record of this.all(type).values()) delete record.properties[name]
    return { status: 204, body: undefined }
  }

  /** `POST /crm/v3/properties/{objectType}/batch/create`: 201, or 207 naming each refused property. */
  batchCreateProperties(type: ObjectType, body: unknown): Answer {
    const startedAt = new Date().toISOString()
    const results: PropertyDefinition[] = []
    const errors: RecordError[] = []
    for (const input of inputsOf(body)) {
      try {
        results.push(this.addProperty(type, input))
      } catch (error) {
        if (!(error instanceof HubSpotError)) throw error
        const name = typeof input.name === 'string' ? input.name : ''
        errors.push({ status: 'error', category: error.category, message: error.message, context: { name: [name] } })
      }
    }
    const answer = batchAnswer(startedAt, results, errors)
    return answer.status === 200 ? { status: 201, body: answer.body } : answer
  }

  listGroups(type: ObjectType): Answer {
    return { status: 200, body: { results: [...this.groups.get(type)!.values()] } }
  }

  createGroup(type: ObjectType, input: unknown): Answer {
    const group = parseGroupCreate(input)
    const groups = this.groups.get(type)!
    if (groups.has(group.name)) {
      throw new HubSpotError(409, 'OBJECT_ALREADY_EXISTS', `Property group named '${group.name}' already exists.`, { context: { name: [group.name] } })
    }
    groups.set(group.name, group)
    return { status: 201, body: group }
  }

  // ---- records ----------------------------------------------------------------------------

  /** The record whose `property` is `value` (email case-insensitively; hs_object_id is the id). */
  private find(type: ObjectType, property: string, value: string): StoredRecord | undefined {
    if (property === 'hs_object_id') return this.all(type).get(value)
    return this.index(type, property).get(normalised(property, value))
  }

  private index(type: ObjectType, property: string): Map<string, StoredRecord> {
    const name = `${type}\u0000${property}`
    let index = this.indexes.get(name)
    if (!index) {
      index = new Map()
      for (const record of this.all(type).values()) {
        const stored = record.properties[property]
        const key = stored === undefined ? undefined : normalised(property, stored)
        if (key !== undefined && !index.has(key)) index.set(key, record)
      }
      this.indexes.set(name, index)
    }
    return index
  }

  /** Keeps the lookup indexes of `type` true as `values` are written to `record`. */
  private reindex(type: ObjectType, record: StoredRecord, values: Record<string, string>): void {
    for (const [property, value] of Object.entries(values)) {
      const index = this.indexes.get(`${type}\u0000${property}`)
      if (!index) continue
      const old = record.properties[property]
      if (old !== undefined && index.get(normalised(property, old)) === record) index.delete(normalised(property, old))
      if (!index.has(normalised(property, value))) index.set(normalised(property, value), record)
    }
  }

  /** The client-facing record (`SimplePublicObject`): requested properties, unset ones null. */
  private present(type: ObjectType, record: StoredRecord, requested?: string[]) {
    const names = requested && requested.length > 0 ? [...new Set([...requested, ...SYSTEM])] : DEFAULT_PROPERTIES[type]
    const properties: Record<string, string | null> = {}
    for (const name of names) if (this.defs(type).has(name)) properties[name] = record.properties[name] ?? null
    return { id: record.id, properties, createdAt: record.createdAt, updatedAt: record.updatedAt, archived: false }
  }

  /** `idProperty` must identify records: `email` on contacts or a `hasUniqueValue` property. */
  private checkIdProperty(type: ObjectType, idProperty: unknown, what: 'update/upsert' | 'read'): string {
    if (!isId(idProperty)) throw validation('idProperty is required: the name of a unique property (for contacts, email)')
    if (idProperty === 'hs_object_id' && what === 'read') return idProperty
    if (!isUniqueKey(type, this.defs(type).get(idProperty))) {
      throw validation(`Unable to perform ${what} by non-unique ${TYPE_IDS[type]} property ${idProperty} in portal ID ${this.portalId}`)
    }
    return idProperty
  }

  /** Checks every value of every write; one bad value rejects the whole request (400). */
  private checkValues(type: ObjectType, inputs: { label: string; properties: unknown }[]): Record<string, string>[] {
    const problems: { id: string; problem: ValueProblem }[] = []
    const checked = inputs.map(({ label, properties }) => {
      if (properties !== undefined && !isObject(properties)) throw invalidInput(`properties of the input ${label} must be an object of strings`)
      const values: Record<string, string> = {}
      for (const [name, raw] of Object.entries(properties ?? {})) {
        const result = checkValue(type, name, this.defs(type).get(name), raw)
        if ('value' in result) values[name] = result.value
        else problems.push({ id: label, problem: result })
      }
      return values
    })
    rejectProblems(problems, this.portalId)
    return checked
  }

  /** HubSpot refuses a batch that names the same record twice. */
  private rejectDuplicates(keys: string[]): void {
    const duplicates = keys.filter((key, index) => keys.indexOf(key) !== index)
    if (duplicates.length > 0) throw validation(`Duplicate IDs found in batch input: [${[...new Set(duplicates)].join(', ')}]`)
  }

  /** A unique value may belong to one record only: 409 when another record (or input) has it. */
  private rejectConflicts(type: ObjectType, writes: Write[]): void {
    const unique = [...this.defs(type).values()].filter((p) => isUniqueKey(type, p)).map((p) => p.name)
    const claimed = new Map<string, Write>()
    for (const write of writes) {
      for (const name of unique) {
        const value = write.values[name]
        if (!value) continue
        const key = `${name}\u0000${name === 'email' ? value.toLowerCase() : value}`
        const owner = this.find(type, name, value)
        const other = claimed.get(key)
        if ((owner && owner !== write.record) || (other && other.record !== write.record) || (other && !write.record)) {
          throw new HubSpotError(
            409,
            'CONFLICT',
            `A ${SINGULAR[type].toLowerCase()} with the unique value '${value}' for ${name} already exists.${owner ? ` Existing ID: ${owner.id}` : ''}`,
            { context: { ids: [write.label], [name]: [value] } }
          )
        }
        claimed.set(key, write)
      }
    }
  }

  private apply(type: ObjectType, write: Write): { record: StoredRecord; created: boolean } {
    const now = new Date().toISOString()
    let record = write.record
    const created = !record
    if (!record) {
      const id = String(this.nextId++)
      record = { id, properties: { hs_object_id: id, createdate: now, lastmodifieddate: now }, createdAt: now, updatedAt: now }
      this.all(type).set(id, record)
    }
    // '' clears a value; like HubSpot, a cleared property then reads back as '' (a never-set one as null).
    this.reindex(type, record, write.values)
    this.keepHistory(type, record, write.values, now)
    Object.assign(record.properties, write.values)
    record.updatedAt = now
    record.properties.lastmodifieddate = now
    return { record, created }
  }

  /**
   * A version for each value that changes (a write of the same value adds none), stamped
   * with the write's time; the newest first, at most `historyLimit` per property.
   */
  private keepHistory(type: ObjectType, record: StoredRecord, values: Record<string, string>, timestamp: string): void {
    const key = `${type}/${record.id}`
    const versions = this.history.get(key) ?? new Map<string, PropertyVersion[]>()
    this.history.set(key, versions)
    for (const [name, value] of Object.entries(values)) {
      if (record.properties[name] === value) continue
      const list = versions.get(name) ?? []
      list.unshift({ value, timestamp, sourceType: 'INTEGRATION', sourceId: 'emulator-app' })
      list.length = Math.min(list.length, this.historyLimit)
      versions.set(name, list)
    }
  }

  /** Validation, conflicts and per-record faults shared by upsert and update. */
  private writeBatch(type: ObjectType, writes: Write[], faults: RecordFaults, errors: RecordError[], upsert: boolean) {
    this.rejectConflicts(type, writes)
    const results = []
    for (const write of writes) {
      if (faults(write.index)) {
        errors.push(injectedRecordError(write.label))
        continue
      }
      const { record, created } = this.apply(type, write)
      const shown = this.present(type, record, write.sent ?? Object.keys(write.values))
      results.push(upsert ? { ...shown, new: created } : shown)
    }
    return results
  }

  /** `POST /crm/v3/objects/{type}/batch/upsert`: create or update by a unique property. */
  batchUpsert(type: ObjectType, body: unknown, faults: RecordFaults): Answer {
    const startedAt = new Date().toISOString()
    const inputs = inputsOf(body)
    const keyed = inputs.map((input, index) => {
      const idProperty = this.checkIdProperty(type, input.idProperty, 'update/upsert')
      if (!isId(input.id)) throw invalidInput(`inputs[${index}].id is required`)
      return { idProperty, id: input.id, key: `${idProperty}\u0000${idProperty === 'email' ? input.id.trim().toLowerCase() : input.id}` }
    })
    this.rejectDuplicates(keyed.map((k) => k.key))
    const values = this.checkValues(
      type,
      inputs.map((input, i) => ({ label: keyed[i].id, properties: { ...(isObject(input.properties) ? input.properties : {}), [keyed[i].idProperty]: keyed[i].id } }))
    )
    // The answer shows the properties the input carried: HubSpot's schema does not promise an echo of idProperty.
    const writes = keyed.map(({ idProperty, id }, index): Write => ({
      index,
      label: id,
      record: this.find(type, idProperty, id),
      values: values[index],
      sent: Object.keys(isObject(inputs[index].properties) ? inputs[index].properties : {})
    }))
    const errors: RecordError[] = []
    return batchAnswer(startedAt, this.writeBatch(type, writes, faults, errors, true), errors)
  }

  /** `POST /crm/v3/objects/{type}/batch/update`: by record id (or a unique `idProperty`). */
  batchUpdate(type: ObjectType, body: unknown, faults: RecordFaults): Answer {
    const startedAt = new Date().toISOString()
    const inputs = inputsOf(body)
    const ids = inputs.map((input, index) => {
      if (!isId(input.id)) throw invalidInput(`inputs[${index}].id is required`)
      const idProperty = input.idProperty === undefined ? 'hs_object_id' : this.checkIdProperty(type, input.idProperty, 'update/upsert')
      return { id: input.id, idProperty }
    })
    this.rejectDuplicates(ids.map(({ id, idProperty }) => `${idProperty}\u0000${id}`))
    const values = this.checkValues(type, inputs.map((input, i) => ({ label: ids[i].id, properties: input.properties })))
    const missing: string[] = []
    const writes: Write[] = []
    ids.forEach(({ id, idProperty }, index) => {
      const record = this.find(type, idProperty, id)
      if (record) writes.push({ index, label: id, record, values: values[index] })
      else missing.push(id)
    })
    const errors: RecordError[] = missing.length > 0 ? [this.notFoundError(type, missing)] : []
    return batchAnswer(startedAt, this.writeBatch(type, writes, faults, errors, false), errors)
  }

  /** `POST /crm/v3/objects/{type}/batch/create`: new records only (201); a taken unique value is a 409. */
  batchCreate(type: ObjectType, body: unknown, faults: RecordFaults): Answer {
    const startedAt = new Date().toISOString()
    const inputs = inputsOf(body)
    const values = this.checkValues(type, inputs.map((input, index) => ({ label: String(index), properties: input.properties })))
    const writes = values.map((v, index): Write => ({ index, label: String(index), values: v }))
    const errors: RecordError[] = []
    const answer = batchAnswer(startedAt, this.writeBatch(type, writes, faults, errors, false), errors)
    return answer.status === 200 ? { ...answer, status: 201 } : answer
  }

  /** `POST /events/v3/send`: a custom behavioral event for a contact (204, no body). */
  sendEvent(body: unknown): Answer {
    if (!isObject(body) || typeof body.eventName !== 'string' || body.eventName === '') throw invalidInput('eventName is required')
    if (body.email === undefined && body.utk === undefined && body.objectId === undefined) {
      throw invalidInput('One of email, utk or objectId is required')
    }
    this.events.push(body)
    return { status: 204, body: undefined }
  }

  private notFoundError(type: ObjectType, ids: string[]): RecordError {
    return {
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      message: `Could not get some ${SINGULAR[type]} objects, they may be deleted or not exist. Check that ids are valid.`,
      context: { ids }
    }
  }

  /** `POST /crm/v3/objects/{type}/batch/read`: by record id, or by a unique `idProperty`. */
  batchRead(type: ObjectType, body: unknown, faults: RecordFaults): Answer {
    const startedAt = new Date().toISOString()
    const request = (isObject(body) ? body : {}) as Record<string, unknown>
    const withHistory = Array.isArray(request.propertiesWithHistory)
      ? request.propertiesWithHistory.filter((p): p is string => typeof p === 'string' && this.defs(type).has(p))
      : []
    if (withHistory.length > 0 && Array.isArray(request.inputs) && request.inputs.length > HISTORY_BATCH_LIMIT) {
      throw validation(
        `The maximum number of inputs supported in a batch request for property histories is ${HISTORY_BATCH_LIMIT}. Please reduce the number of items and try again`
      )
    }
    const inputs = inputsOf(body)
    const idProperty = request.idProperty === undefined ? 'hs_object_id' : this.checkIdProperty(type, request.idProperty, 'read')
    const requested = Array.isArray(request.properties) ? request.properties.filter((p): p is string => typeof p === 'string') : []
    const results: unknown[] = []
    const missing: string[] = []
    const errors: RecordError[] = []
    const seen = new Set<string>()
    inputs.forEach((input, index) => {
      if (!isId(input.id)) throw invalidInput(`inputs[${index}].id is required`)
      const record = this.find(type, idProperty, input.id)
      if (faults(index)) errors.push(injectedRecordError(input.id))
      else if (!record) missing.push(input.id)
      else if (!seen.has(record.id)) {
        seen.add(record.id)
        const shown = this.present(type, record, requested)
        results.push(withHistory.length > 0 ? { ...shown, propertiesWithHistory: this.versions(type, record, withHistory) } : shown)
      }
    })
    if (missing.length > 0) errors.unshift(this.notFoundError(type, missing))
    return batchAnswer(startedAt, results, errors)
  }

  /** `propertiesWithHistory`: each named property's versions, newest first (a never-set one: none). */
  private versions(type: ObjectType, record: StoredRecord, names: string[]): Record<string, PropertyVersion[]> {
    const versions = this.history.get(`${type}/${record.id}`)
    return Object.fromEntries(names.map((name) => [name, (versions?.get(name) ?? []).map((version) => ({ ...version }))]))
  }

  /** `POST /crm/v3/objects/tasks`: 201 with the task. */
  createTask(body: unknown): Answer {
    if (!isObject(body)) throw invalidInput('Cannot build SimplePublicObjectInputForCreate from a non-object')
    const [values] = this.checkValues('tasks', [{ label: 'new', properties: body.properties ?? {} }])
    if (!values.hs_timestamp) {
      rejectProblems([{ id: 'new', problem: { isValid: false, name: 'hs_timestamp', error: 'REQUIRED_PROPERTY', message: 'hs_timestamp is required' } }], this.portalId)
    }
    const associations = this.parseAssociations('tasks', body.associations)
    const { record } = this.apply('tasks', { index: 0, label: 'new', values })
    record.associations = associations
    return { status: 201, body: this.present('tasks', record, Object.keys(values)) }
  }

  private parseAssociations(type: ObjectType, given: unknown): RecordAssociation[] {
    if (given === undefined) return []
    if (!Array.isArray(given)) throw invalidInput('associations must be an array')
    return given.flatMap((association, index) => {
      const to = isObject(association) && isObject(association.to) ? association.to.id : undefined
      const types = isObject(association) && Array.isArray(association.types) ? association.types : []
      if (!isId(to) || types.length === 0) throw invalidInput(`associations[${index}] needs to.id and at least one type`)
      return types.map((spec): RecordAssociation => {
        const typeId = isObject(spec) ? Number(spec.associationTypeId) : NaN
        const category = isObject(spec) ? String(spec.associationCategory) : ''
        const known = ASSOCIATION_TYPES[type].find((t) => t.id === typeId)
        if (!known || category !== 'HUBSPOT_DEFINED') {
          throw validation(`${category} ${typeId} is not a valid association type from ${TYPE_IDS[type]}`, { context: { associationTypeId: [String(typeId)] } })
        }
        if (!this.all(known.to).has(to)) {
          throw validation(`One or more associations are invalid: ${SINGULAR[known.to]} ${to} does not exist`, { context: { ids: [to] } })
        }
        return { toObjectType: known.to, toId: to, associationCategory: category, associationTypeId: typeId }
      })
    })
  }

  private link(from: string, to: string): void {
    const association: Association = { fromObjectType: 'contacts', from, toObjectType: 'companies', to, associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 }
    this.associations.set(`${from}:${to}`, association)
  }

  /** `POST /crm/v4/associations/{from}/{to}/batch/associate/default` (contacts ⇄ companies). */
  associateDefault(from: ObjectType, to: ObjectType, body: unknown, faults: RecordFaults): Answer {
    const spec = ASSOCIATION_TYPES[from].find((t) => t.to === to)
    if (!spec || from === 'tasks') throw validation(`There is no default association from ${TYPE_IDS[from]} to ${TYPE_IDS[to]}`)
    const startedAt = new Date().toISOString()
    const inputs = inputsOf(body, ASSOCIATION_BATCH_LIMIT)
    const results: unknown[] = []
    const errors: RecordError[] = []
    const missing: Record<'from' | 'to', string[]> = { from: [], to: [] }
    inputs.forEach((input, index) => {
      const fromId = isObject(input.from) ? input.from.id : undefined
      const toId = isObject(input.to) ? input.to.id : undefined
      if (!isId(fromId) || !isId(toId)) throw invalidInput(`inputs[${index}] needs from.id and to.id`)
      const fromMissing = !this.all(from).has(fromId)
      const toMissing = !this.all(to).has(toId)
      if (fromMissing) missing.from.push(fromId)
      if (toMissing) missing.to.push(toId)
      if (fromMissing || toMissing) return
      if (faults(index)) return void errors.push(injectedRecordError(fromId))
      if (from === 'contacts') this.link(fromId, toId)
      else this.link(toId, fromId)
      results.push({ from: { id: fromId }, to: { id: toId }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: spec.id } })
    })
    for (const side of ['from', 'to'] as const) {
      if (missing[side].length === 0) continue
      const objectType = side === 'from' ? from : to
      errors.unshift({
        status: 'error',
        category: 'VALIDATION_ERROR',
        subCategory: 'crm.associations.INVALID_OBJECT_IDS',
        message: `No ${SINGULAR[objectType].toLowerCase()}s with ids: ${[...new Set(missing[side])].join(', ')}`,
        context: { ids: [...new Set(missing[side])], objectType: [objectType] }
      })
    }
    return batchAnswer(startedAt, results, errors)
  }

  /**
   * `GET /crm/v4/objects/{type}/{id}/associations/{toType}?limit&after`: the record's associated
   * records of `toType`, by id, a page at a time, as HubSpot documents it
   * (developers.hubspot.com/docs/api-reference/crm-associations-v4/basic/get-crm-v4-objects-objectType-objectId-associations-toObjectType):
   * `results: [{ toObjectId, associationTypes: [{ category, typeId, label }] }]`, `paging.next.after`
   * only when there are more, `limit` at most 500 (its default). A record without any (or one
   * that does not exist) has an empty list.
   */
  listAssociations(type: ObjectType, id: string, toType: ObjectType, query: URLSearchParams): Answer {
    const limit = query.has('limit') ? Number(query.get('limit')) : ASSOCIATION_PAGE_LIMIT
    if (!Number.isInteger(limit) || limit < 1 || limit > ASSOCIATION_PAGE_LIMIT) {
      throw validation(`limit must be between 1 and ${ASSOCIATION_PAGE_LIMIT}, got ${query.get('limit')}`)
    }
    const after = Number(query.get('after') ?? '0')
    const found = new Map<string, number>()
    if (type === 'tasks') {
      for (const association of this.all('tasks').get(id)?.associations ?? []) if (association.toObjectType === toType) found.set(association.toId, association.associationTypeId)
    } else if (toType === 'tasks') {
      for (const task of this.all('tasks').values()) {
        if (task.associations?.some((association) => association.toObjectType === type && association.toId === id)) found.set(task.id, TO_TASK[type])
      }
    } else {
      for (const association of this.associations.values()) {
        if (type === 'contacts' && toType === 'companies' && association.from === id) found.set(association.to, 279)
        if (type === 'companies' && toType === 'contacts' && association.to === id) found.set(association.from, 280)
      }
    }
    const ids = [...found.keys()].filter((toId) => Number(toId) > after).sort((a, b) => Number(a) - Number(b))
    const page = ids.slice(0, limit)
    const body: Record<string, unknown> = {
      results: page.map((toId) => ({ toObjectId: Number(toId), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: found.get(toId), label: null }] }))
    }
    if (ids.length > limit) body.paging = { next: { after: page[page.length - 1], link: `?after=${page[page.length - 1]}` } }
    return { status: 200, body }
  }

  /** `GET /crm/v3/objects/{type}?limit&after&properties`: one page by id. */
  list(type: ObjectType, query: URLSearchParams): Answer {
    const limit = query.has('limit') ? Number(query.get('limit')) : 10
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw validation(`limit must be between 1 and 100, got ${query.get('limit')}`)
    const after = query.get('after') ?? '0'
    const requested = query.getAll('properties').flatMap((p) => p.split(',')).filter(Boolean)
    const sorted = [...this.all(type).values()].filter((r) => Number(r.id) > Number(after)).sort((a, b) => Number(a.id) - Number(b.id))
    const page = sorted.slice(0, limit)
    const body: Record<string, unknown> = { results: page.map((r) => this.present(type, r, requested)) }
    if (sorted.length > limit) {
      const next = String(Number(page[page.length - 1].id) + 1)
      body.paging = { next: { after: next, link: `?after=${next}` } }
    }
    return { status: 200, body }
  }

  /** `POST /crm/v3/objects/{type}/search`. */
  search(type: ObjectType, body: unknown): Answer {
    const { page, total, after, requested } = search(this.defs(type), [...this.all(type).values()], body)
    const answer: Record<string, unknown> = { total, results: page.map((record) => this.present(type, record, requested)) }
    if (after !== undefined) answer.paging = { next: { after } }
    return { status: 200, body: answer }
  }

  /** Everything, as plain JSON. */
  dump(): EmulatorDump {
    const types: ObjectType[] = ['contacts', 'companies', 'tasks']
    const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T
    return copy({
      contacts: [...this.all('contacts').values()],
      companies: [...this.all('companies').values()],
      tasks: [...this.all('tasks').values()].map((task) => ({ ...task, associations: task.associations ?? [] })),
      associations: [...this.associations.values()],
      properties: types.flatMap((objectType) => [...this.defs(objectType).values()].map((p) => ({ objectType, ...p }))),
      groups: types.flatMap((objectType) => [...this.groups.get(objectType)!.values()].map((g) => ({ objectType, ...g }))),
      events: this.events
    })
  }
}
