/**
 * What a user sets at the top of the transformation, next to the model (RudderStack has no
 * settings form for transformations). The HubSpot token is not here: it is the credential
 * `HUBSPOT_ACCESS_TOKEN`, read with `getCredential`.
 */
export type Settings = {
  /** HubSpot's API base URL, no trailing slash; default https://api.hubapi.com. */
  hubspotBaseUrl?: string
  /** The HubSpot portal id, for links to the contact in Slack hand-offs. */
  portalId?: number
  /** For hand-offs whose `slack:` block names no webhook. */
  defaultSlackWebhook?: string
  /** Hosts a Slack webhook may point at; default hooks.slack.com. */
  slackHosts?: string[]
}

/** The RudderStack credential that holds the HubSpot private app token. */
export const TOKEN_CREDENTIAL = 'HUBSPOT_ACCESS_TOKEN'
