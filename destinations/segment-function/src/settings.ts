/**
 * The Function's settings, declared as Segment's Functions API takes them (`settings` of
 * `POST /functions`: name, label, description, type, required, sensitive). A sensitive
 * setting is never shown again in Segment's UI. The model is not a setting: it is pasted at
 * the top of the script (settings are single values; a model is a document).
 */
export type FunctionSetting = { name: string; label: string; description: string; type: 'STRING'; required: boolean; sensitive: boolean }

export const SETTINGS: FunctionSetting[] = [
  {
    name: 'hubspotAccessToken',
    label: 'HubSpot private app access token',
    description: 'A HubSpot private app token with the crm.objects.contacts, crm.objects.companies and crm.schemas read and write scopes.',
    type: 'STRING',
    required: true,
    sensitive: true
  },
  {
    name: 'slackWebhook',
    label: 'Default Slack webhook',
    description: 'Used by hand-offs whose `slack:` block names no webhook of its own. https on hooks.slack.com only.',
    type: 'STRING',
    required: false,
    sensitive: true
  },
  {
    name: 'portalId',
    label: 'HubSpot portal ID',
    description: 'Your HubSpot account id, for links to the contact in Slack hand-offs.',
    type: 'STRING',
    required: false,
    sensitive: false
  },
  {
    name: 'hubspotBaseUrl',
    label: 'HubSpot API base URL',
    description: 'Leave empty for https://api.hubapi.com.',
    type: 'STRING',
    required: false,
    sensitive: false
  }
]

/** The settings object Segment passes to each handler, by the names above. */
export type Settings = { hubspotAccessToken?: string; slackWebhook?: string; portalId?: string; hubspotBaseUrl?: string }
