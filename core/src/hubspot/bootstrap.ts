import type { Model } from '../model/compile'
import type { HubSpotCalls, PortalProperty, PropertyOption } from './api'
import { INTERNALS_GROUP, modelProperties, ObjectType, PRODUCT_GROUP, PropertyDefinition } from './properties'
import { HubSpotRequestError } from './transport'

/** A property the portal has with a type pqlkit cannot write its values into. */
export type IncompatibleProperty = { objectType: ObjectType; name: string; wanted: string; found: string }

export type BootstrapReport = {
  created: string[]
  /** Tier enumerations whose options now follow the model's tiers. */
  updated: string[]
  existing: number
  /** Left out of every write, and named wherever a host reports problems. */
  incompatible: IncompatibleProperty[]
}

/** What reconciling the portal with a model does, for one object type (pure: `pqlkit plan` shows it). */
export type SchemaPlan = {
  create: PropertyDefinition[]
  /** Tier enumerations whose options change: the model's tiers first, then old options `retire` lists. */
  update: { name: string; options: PropertyOption[]; added: string[]; retire: string[] }[]
  incompatible: IncompatibleProperty[]
  existing: number
}

/** A text property takes any value pqlkit writes; any other type mismatch would be refused or misread. */
function compatible(wanted: PropertyDefinition, found: PortalProperty): boolean {
  return found.type === wanted.type || found.type === 'string'
}

/**
 * Compares the properties a model needs with what the portal has: missing ones to create, a
 * tier enumeration whose options no longer follow the tiers (a tier added or renamed) to
 * update, and properties of an incompatible type to name. Old options are listed in
 * `retire`: `bootstrap` keeps those still held by a record and drops the others.
 */
export function planSchema(model: Model, objectType: ObjectType, portal: PortalProperty[]): SchemaPlan {
  const found = new Map(portal.map((property) => [property.name, property]))
  const plan: SchemaPlan = { create: [], update: [], incompatible: [], existing: 0 }
  for (const wanted of modelProperties(model, objectType)) {
    const current = found.get(wanted.name)
    if (!current) {
      plan.create.push(wanted)
      continue
    }
    plan.existing++
    if (!compatible(wanted, current)) {
      plan.incompatible.push({ objectType, name: wanted.name, wanted: wanted.type, found: current.type })
      continue
    }
    if (wanted.type !== 'enumeration' || current.type !== 'enumeration') continue
    const tiers = wanted.options!.map((option) => option.value)
    const have = (current.options ?? []).map((option) => option.value)
    const added = tiers.filter((tier) => !have.includes(tier))
    const retire = have.filter((value) => !tiers.includes(value))
    if (added.length === 0 && retire.length === 0) continue
    plan.update.push({ name: wanted.name, options: wanted.options!, added, retire })
  }
  return plan
}

/** 409 means someone (another worker, an earlier run) created it first: that is success. */
async function idempotent(create: () => Promise<void>): Promise<boolean> {
  try {
    await create()
    return true
  } catch (error) {
    if (error instanceof HubSpotRequestError && error.status === 409) return false
    throw error
  }
}

/** Whether any record holds `value` in `name` (HubSpot search, one result is enough). */
async function inUse(api: HubSpotCalls, objectType: ObjectType, name: string, value: string): Promise<boolean> {
  const page = await api.search(objectType, {
    filterGroups: [{ filters: [{ propertyName: name, operator: 'EQ', value }] }],
    properties: [name],
    limit: 1
  })
  return page.total > 0 || page.results.length > 0
}

/**
 * SPEC §5, reconciled rather than only created: the property groups "Product usage (pqlkit)"
 * and "pqlkit internals" and every property the model needs, on contacts (and companies when
 * the model has a company section). A missing property is created (again, if someone deleted
 * it); a tier enumeration's options follow the tiers: new tiers are added, and old options kept
 * (with `retireUnused`, as `pqlkit bootstrap` and `apply` run it, only while a search finds a
 * record holding one: a host's own bootstrap never searches); a property of an incompatible
 * type is named in the report, never changed. Reads first, so a run with nothing to do only reads.
 */
export async function bootstrap(api: HubSpotCalls, model: Model, { retireUnused = false }: { retireUnused?: boolean } = {}): Promise<BootstrapReport> {
  const report: BootstrapReport = { created: [], updated: [], existing: 0, incompatible: [] }
  const objectTypes: ObjectType[] = model.company ? ['contacts', 'companies'] : ['contacts']
  for (const objectType of objectTypes) {
    const groups = await api.groupNames(objectType)
    for (const group of [PRODUCT_GROUP, INTERNALS_GROUP]) {
      if (groups.has(group.name)) continue
      if (await idempotent(() => api.createGroup(objectType, group))) report.created.push(`${objectType} group ${group.name}`)
    }
    const plan = planSchema(model, objectType, await api.properties(objectType))
    report.existing += plan.existing
    report.incompatible.push(...plan.incompatible)
    for (const { name, options, added, retire } of plan.update) {
      const kept: PropertyOption[] = []
      for (const value of retire) {
        if (!retireUnused || (await inUse(api, objectType, name, value))) {
          kept.push({ label: value, value, displayOrder: options.length + kept.length, hidden: false })
        }
      }
      if (added.length === 0 && kept.length === retire.length) continue
      await api.updateProperty(objectType, name, { options: [...options, ...kept] })
      report.updated.push(`${objectType}.${name}`)
    }
    if (plan.create.length === 0) continue
    const errors = await api.createProperties(objectType, plan.create)
    // A property another worker created in the meantime is there all the same.
    const refused = new Set(errors.flatMap((error) => Object.values(error.context ?? {}).flat()))
    const failures = errors.filter((error) => !/already exists|ALREADY_EXISTS|CONFLICT/i.test(`${error.category} ${error.message}`))
    if (failures.length > 0) {
      throw new HubSpotRequestError(`POST /crm/v3/properties/${objectType}/batch/create`, 400, failures[0])
    }
    for (const property of plan.create) {
      if (refused.has(property.name)) report.existing++
      else report.created.push(`${objectType}.${property.name}`)
    }
  }
  return report
}

/** How an incompatible property is named to a person. */
export function describeIncompatible({ objectType, name, wanted, found }: IncompatibleProperty): string {
  return `${objectType}.${name} is a ${found} property in HubSpot, but pqlkit writes ${wanted} values to it: it is left out of every write (change its type in HubSpot, or rename it in the model)`
}
