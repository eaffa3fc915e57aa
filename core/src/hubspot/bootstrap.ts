import type { Model } from '../model/compile'
import type { HubSpotCalls } from './api'
import { INTERNALS_GROUP, modelProperties, ObjectType, PRODUCT_GROUP } from './properties'
import { HubSpotRequestError } from './transport'

export type BootstrapReport = { created: string[]; existing: number }

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

/**
 * SPEC §5: the property groups "Product usage (pqlkit)" and "pqlkit internals" and every
 * property the model needs, on contacts (and companies when the model has a company
 * section). Reads first, so a second run only reads.
 */
export async function bootstrap(api: HubSpotCalls, model: Model): Promise<BootstrapReport> {
  const report: BootstrapReport = { created: [], existing: 0 }
  const objectTypes: ObjectType[] = model.company ? ['contacts', 'companies'] : ['contacts']
  for (const objectType of objectTypes) {
    const groups = await api.groupNames(objectType)
    for (const group of [PRODUCT_GROUP, INTERNALS_GROUP]) {
      if (groups.has(group.name)) continue
      if (await idempotent(() => api.createGroup(objectType, group))) report.created.push(`${objectType} group ${group.name}`)
    }
    const existing = await api.propertyNames(objectType)
    const wanted = modelProperties(model, objectType)
    const missing = wanted.filter((property) => !existing.has(property.name))
    report.existing += wanted.length - missing.length
    if (missing.length === 0) continue
    const errors = await api.createProperties(objectType, missing)
    // A property another worker created in the meantime is there all the same.
    const refused = new Set(errors.flatMap((error) => Object.values(error.context ?? {}).flat()))
    const failures = errors.filter((error) => !/already exists|ALREADY_EXISTS|CONFLICT/i.test(`${error.category} ${error.message}`))
    if (failures.length > 0) {
      throw new HubSpotRequestError(`POST /crm/v3/properties/${objectType}/batch/create`, 400, failures[0])
    }
    for (const property of missing) {
      if (refused.has(property.name)) report.existing++
      else report.created.push(`${objectType}.${property.name}`)
    }
  }
  return report
}
