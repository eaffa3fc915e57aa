import type { HandoffIntent } from '../engine/evaluate'
import { HTTPS_URL } from '../model/schema'
import type { HubSpotCalls } from '../hubspot/api'
import { escapeHtml, escapeSlack, renderTemplate } from './template'

/** The contact a hand-off is about: its HubSpot id (for the task) and hand-off properties. */
export type HandoffContact = { id?: string; properties: Record<string, string | undefined> }

export interface HandoffSender {
  send(intent: HandoffIntent, contact: HandoffContact): Promise<void>
}

/** Posts JSON to a URL; each host brings its own (Node https, PostHog's fetch, RudderStack's fetchV2). */
export type PostJson = (url: string, body: string) => Promise<{ status: number }>

export type SenderOptions = {
  post: PostJson
  /** Creates tasks; without it a hand-off's task is reported as not sent. */
  api?: HubSpotCalls
  /** For record links in Slack messages. */
  portalId?: number
  /** Hosts a Slack webhook may point at (SPEC §3.5); default hooks.slack.com. */
  allowedHosts?: string[]
  /** Used when a hand-off's slack block has no webhook of its own (a host setting). */
  defaultWebhook?: string
  now: () => number
}

export class HandoffError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'HandoffError'
  }
}

const DEFAULT_ALLOWED_HOSTS = ['hooks.slack.com']

/** Refuses anything but https on an allow-listed host. Never echoes the URL: its path is the secret. */
export function checkWebhook(url: string, allowedHosts: string[] = DEFAULT_ALLOWED_HOSTS): void {
  const host = HTTPS_URL.exec(url)?.[1]?.toLowerCase()
  if (host === undefined) throw new HandoffError('the Slack webhook is not an https URL')
  if (!allowedHosts.map((allowed) => allowed.toLowerCase()).includes(host)) {
    throw new HandoffError(`the Slack webhook's host ${host} is not allow-listed (${allowedHosts.join(', ')})`)
  }
}

function contactName(properties: Record<string, string | undefined>): string {
  return [properties.firstname, properties.lastname].filter(Boolean).join(' ') || properties.email || 'A contact'
}

export class DefaultHandoffSender implements HandoffSender {
  constructor(private readonly options: SenderOptions) {}

  async send(intent: HandoffIntent, contact: HandoffContact): Promise<void> {
    const values: Record<string, string | undefined> = {
      ...contact.properties,
      score: String(intent.score),
      tier: intent.tier ?? '',
      reasons: intent.reasons
    }
    const { slack, task } = intent.handoff
    if (slack) {
      const webhook = slack.webhook ?? this.options.defaultWebhook
      if (!webhook) throw new HandoffError('no Slack webhook: the model has none and the host sets no default')
      await this.postSlack(webhook, intent, contact, values)
    }
    if (task) {
      if (!this.options.api) throw new HandoffError('no HubSpot client to create the task with')
      if (!contact.id) throw new HandoffError('the contact has no HubSpot id yet, so no task can be associated')
      const properties: Record<string, string> = {
        hs_task_subject: renderTemplate(task.title, values),
        hs_task_body: renderTemplate(task.body ?? '{{reasons}}', values, escapeHtml),
        hs_timestamp: new Date(this.options.now() + task.dueMs).toISOString(),
        hs_task_status: 'NOT_STARTED',
        hs_task_type: 'TODO',
        hs_task_priority: task.priority ?? 'HIGH'
      }
      if (contact.properties.hubspot_owner_id) properties.hubspot_owner_id = contact.properties.hubspot_owner_id
      await this.options.api.createTask(properties, contact.id)
    }
  }

  private recordLink(contact: HandoffContact): string | undefined {
    if (this.options.portalId === undefined || contact.id === undefined) return undefined
    return `https://app.hubspot.com/contacts/${this.options.portalId}/record/0-1/${contact.id}`
  }

  private async postSlack(
    webhook: string,
    intent: HandoffIntent,
    contact: HandoffContact,
    values: Record<string, string | undefined>
  ): Promise<void> {
    checkWebhook(webhook, this.options.allowedHosts)
    const name = escapeSlack(contactName(contact.properties))
    const link = this.recordLink(contact)
    const who = link ? `<${link}|${name}>` : `*${name}*`
    const email = values.email ? ` (${escapeSlack(values.email)})` : ''
    const company = values.company ? ` at ${escapeSlack(values.company)}` : ''
    const headline = `${intent.handoff.score} ${escapeSlack(intent.on)}: score *${intent.score}*${intent.tier ? `, tier *${escapeSlack(intent.tier)}*` : ''}`
    const body = {
      text: `PQL: ${contactName(contact.properties)} ${intent.on} (score ${intent.score})`,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `${who}${email}${company}\n${headline}` } },
        ...(intent.reasons ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(intent.reasons) }] }] : [])
      ]
    }
    let status: number
    try {
      ;({ status } = await this.options.post(webhook, JSON.stringify(body)))
    } catch (error) {
      // Every host's network error (Node's, node-fetch's, a sandbox's copy) may name the URL,
      // and a webhook URL is a secret: only its code goes on.
      const failure = error as { code?: unknown; cause?: { code?: unknown } } | undefined
      const code = failure?.code ?? failure?.cause?.code
      throw new HandoffError(`Slack could not be reached (${typeof code === 'string' ? code : 'network error'})`)
    }
    if (status < 200 || status >= 300) throw new HandoffError(`Slack answered ${status}`)
  }
}
