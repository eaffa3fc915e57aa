// Generated file. DO NOT MODIFY IT BY HAND.

export type Payload = {
  [k: string]: unknown | undefined
} & {
  property: HubSpotProperty
  object: ContactOrCompany
  aggregation: Aggregation
  window?: Window
  value?: Value
  email?: Email
  user_id?: UserID
  message_id: MessageID
  timestamp: Timestamp
  event_name: EventName
  group_id?: CompanyGroupID
  enable_batching?: BatchEvents
  batch_size?: BatchSize
}
/**
 * The property to keep up to date: pick one of the portal's properties, or type the internal name of a new one (lower-case letters, digits and _), which pqlkit creates at the first event.
 */
export type HubSpotProperty = string
/**
 * Whether the property belongs to the contact who sent the event or to their company (the group, or the company the contact was last seen with).
 */
export type ContactOrCompany = 'contact' | 'company'
/**
 * What to keep of the events: each choice says what the property will hold.
 */
export type Aggregation = 'flag' | 'count' | 'sum' | 'distinct' | 'active_days' | 'first_seen' | 'last_seen' | 'latest'
/**
 * Only count the events of the last N days (UTC days, today included), such as 7d or 30d, at most 90d. Leave empty for all time. Active days needs one.
 */
export type Window = string
/**
 * The value of the event to sum, count distinct values of, or keep the latest of; usually one of its properties.
 */
export type Value = string
/**
 * The contact's email, pqlkit's key for HubSpot contacts. By default the first of $.context.traits.email, $.properties.email.
 */
export type Email = string
/**
 * Your product user id. pqlkit stores it on the contact (pqlkit_user_id) so later events with only a user id find the same contact.
 */
export type UserID = string
/**
 * The event's id: pqlkit never counts the same message id twice for a subject, so re-deliveries are safe.
 */
export type MessageID = string
/**
 * When the event happened (not when it was received): windows and decay are measured from it.
 */
export type Timestamp = string | number
/**
 * The event's name, kept with it in pqlkit's reports. Which events count is set by the trigger, not by this field.
 */
export type EventName = string
/**
 * The account the event belongs to, for a company property.
 */
export type CompanyGroupID = string
/**
 * Send events in batches: one HubSpot read and one write per 100 subjects instead of per event.
 */
export type BatchEvents = boolean
/**
 * At most this many events per batch.
 */
export type BatchSize = number
