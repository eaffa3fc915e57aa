// Generated file. DO NOT MODIFY IT BY HAND.

/**
 * The contact's email, pqlkit's key for HubSpot contacts. By default the first of $.traits.email, $.context.traits.email.
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
 * The account the user belongs to, when the identify call carries one.
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

export interface Payload {
  email?: Email
  user_id?: UserID
  message_id: MessageID
  timestamp: Timestamp
  traits?: Traits
  group_id?: CompanyGroupID
  enable_batching?: BatchEvents
  batch_size?: BatchSize
}
/**
 * The user's traits; the model's `trait:` signals read them.
 */
export interface Traits {
  [k: string]: unknown | undefined
}
