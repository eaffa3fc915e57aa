import { describeIncompatible } from '@pqlkit/core'
import { defaultValues, DestinationDefinition, IntegrationError, InvalidAuthenticationError, RetryableError } from '@segment/actions-core'
import type { Settings } from './generated-types'
import groupCompany from './groupCompany'
import identifyContact from './identifyContact'
import mapEventToProperty from './mapEventToProperty'
import { checkModelSetting, hubspotBaseUrl, syncFor } from './pipeline'
import trackEvent from './trackEvent'

const destination: DestinationDefinition<Settings> = {
  name: 'pqlkit PQL Scoring for HubSpot',
  slug: 'actions-pqlkit-hubspot',
  mode: 'cloud',
  description:
    'Turns product usage into HubSpot contact and company properties and a Product-Qualified-Lead score with tiers, decay, reasons and sales hand-offs, from one model file.',
  authentication: {
    scheme: 'custom',
    fields: {
      accessToken: {
        label: 'HubSpot private app access token',
        description:
          'A HubSpot private app token with the crm.objects.contacts, crm.objects.companies and crm.schemas read and write scopes.',
        type: 'password',
        required: true
      },
      model: {
        label: 'PQL model',
        description:
          'The pqlkit model as JSON (or YAML): signals, scores, tiers and hand-offs. Check it first with `npx pqlkit validate model.yaml`.',
        type: 'string',
        required: true
      },
      portalId: {
        label: 'HubSpot portal ID',
        description: 'Your HubSpot account id, for links to the contact in Slack hand-offs.',
        type: 'number',
        required: false
      },
      slackWebhook: {
        label: 'Default Slack webhook',
        description: "Used by hand-offs whose `slack:` block names no webhook of its own. https on hooks.slack.com only.",
        type: 'password',
        required: false
      }
    },
    testAuthentication: async (request, { settings }) => {
      checkModelSetting(settings)
      const response = await request(`${hubspotBaseUrl()}/crm/v3/objects/contacts?limit=1`, {
        method: 'GET',
        headers: { authorization: `Bearer ${settings.accessToken}` },
        throwHttpErrors: false
      })
      if (response.status === 401 || response.status === 403) {
        throw new InvalidAuthenticationError('HubSpot rejected the access token: check the private app token and its CRM scopes')
      }
      if (response.status >= 300) return false
      // Reconciles the portal now, so a property of an incompatible type is named before any
      // event; a model still waiting for the signals of mappings not seen yet is reconciled by
      // its first event instead.
      let pipeline
      try {
        pipeline = syncFor(settings)
      } catch (error) {
        if (error instanceof RetryableError) return true
        throw error
      }
      const { incompatible } = await pipeline.bootstrap()
      if (incompatible.length > 0) throw new IntegrationError(incompatible.map(describeIncompatible).join('; '), 'INCOMPATIBLE_PROPERTY', 400)
      return true
    }
  },
  presets: [
    { name: 'Track Calls', subscribe: 'type = "track"', partnerAction: 'trackEvent', mapping: defaultValues(trackEvent.fields), type: 'automatic' },
    {
      name: 'Identify Calls',
      subscribe: 'type = "identify"',
      partnerAction: 'identifyContact',
      mapping: defaultValues(identifyContact.fields),
      type: 'automatic'
    },
    { name: 'Group Calls', subscribe: 'type = "group"', partnerAction: 'groupCompany', mapping: defaultValues(groupCompany.fields), type: 'automatic' }
  ],
  actions: { trackEvent, identifyContact, groupCompany, mapEventToProperty }
}

export default destination
