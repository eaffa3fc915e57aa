import type { Model } from '../model/compile'
import type { AttributedEvent } from './aggregate'
import { compareReplayOrder, ValidEvent } from './event'
import type { SubjectState } from './state'

/**
 * SPEC §3.4: the company an event belongs to. Its own company first: the host's group id, or
 * (with `company_from_email`) the contact's email domain unless it is free mail; otherwise the
 * company the contact was last seen with, remembered in the contact's state.
 */
export function ownCompanyKey(model: Model, event: ValidEvent, contactEmail: string | undefined): string | undefined {
  if (event.company?.groupId) return event.company.groupId
  if (!model.companyFromEmail) return undefined
  const domain = (event.email ?? contactEmail)?.split('@')[1]
  return domain && !model.freeMailDomains.has(domain) ? domain : undefined
}

/**
 * Attributes a contact's accepted events to companies (in time order, so "last seen with" is
 * the latest company by event time) and updates the contact's remembered company.
 */
export function attributeToCompanies(
  model: Model,
  contactState: SubjectState,
  contactKey: string,
  contactEmail: string | undefined,
  events: ValidEvent[]
): Map<string, AttributedEvent[]> {
  const byCompany = new Map<string, AttributedEvent[]>()
  if (!model.company) return byCompany
  const identity = (contactState.countedAs ??= contactKey)
  const ordered = events.length > 1 ? [...events].sort(compareReplayOrder) : events
  for (const event of ordered) {
    const key = companyOf(model, contactState, contactKey, contactEmail, event)
    if (key === undefined) continue
    const list = byCompany.get(key) ?? []
    list.push({ event, contact: identity })
    byCompany.set(key, list)
  }
  return byCompany
}

/**
 * The company one event of a contact counts for (`attributeToCompanies` for events in time
 * order, one at a time), updating the contact's remembered company; the contact counts by
 * `contactState.countedAs` from then on.
 */
export function companyOf(
  model: Model,
  contactState: SubjectState,
  contactKey: string,
  contactEmail: string | undefined,
  event: ValidEvent
): string | undefined {
  contactState.countedAs ??= contactKey
  const own = ownCompanyKey(model, event, contactEmail)
  const last = contactState.lastCompany
  if (own !== undefined && (last === undefined || event.at >= last[1])) {
    if (last !== undefined && last[0] === own) last[1] = event.at
    else contactState.lastCompany = [own, event.at]
  }
  // Without its own company, an event counts for the company the contact was last seen with
  // at the event's time: none before the contact's first company. Retries and late events
  // are attributed as they were in time order, never to a company learned afterwards.
  return own ?? (contactState.lastCompany && event.at >= contactState.lastCompany[1] ? contactState.lastCompany[0] : undefined)
}
