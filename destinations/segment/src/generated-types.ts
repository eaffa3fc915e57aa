// Generated file. DO NOT MODIFY IT BY HAND.

/**
 * A HubSpot private app token with the crm.objects.contacts, crm.objects.companies and crm.schemas read and write scopes.
 */
export type HubSpotPrivateAppAccessToken = string
/**
 * The pqlkit model as JSON (or YAML): signals, scores, tiers and hand-offs. Check it first with `npx pqlkit validate model.yaml`.
 */
export type PQLModel = string
/**
 * Your HubSpot account id, for links to the contact in Slack hand-offs.
 */
export type HubSpotPortalID = number
/**
 * Used by hand-offs whose `slack:` block names no webhook of its own. https on hooks.slack.com only.
 */
export type DefaultSlackWebhook = string

export interface Settings {
  accessToken: HubSpotPrivateAppAccessToken
  model: PQLModel
  portalId?: HubSpotPortalID
  slackWebhook?: DefaultSlackWebhook
}
