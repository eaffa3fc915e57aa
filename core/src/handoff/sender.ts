import type { HandoffIntent } from '../engine/evaluate'
import { HTTPS_URL } from '../model/schema'
import type { HubSpotCalls } from '../hubspot/api'
import { escapeHtml, escapeSlack, renderTemplate } from './template'

/** The contact a hand-off is about: its HubSpot id (for the task) and hand-off properties. */
export type HandoffContact = { id?: string; properties: Record<string, string | undefined> }

/**
 * What an outbox knows of a hand-off's earlier attempts, so that a retry sends only the parts
 * that have not landed (docs/server.md, "Hand-offs"). Without it a hand-off is sent whole.
 */
export type HandoffProgress = {
  /** When the hand-off was first attempted: the task's due date counts from it, so a retried task is the same task. Without it: now. */
  firstAttemptAt?: number
  /** An earlier attempt may have created the task and never seen HubSpot's answer: the task is looked for before it is created. */
  attemptedBefore: boolean
  slackSent: boolean
  taskSent: boolean
  /** A task creation that got no answer is repeated at once (the transport's retries); otherwise it is left to a retry that looks for it first. */
  repeatUnanswered?: boolean
  /** Awaited right after Slack answered 2xx, before anything else is sent. */
  slackLanded(): Promise<void>
  /** Awaited right after the task was created (or found). */
  taskLanded(taskId: string): Promise<void>
}

export interface HandoffSender {
  send(intent: HandoffIntent, contact: HandoffContact, progress?: HandoffProgress): Promise<void>
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

/** A hand-off that failed; `transient` when trying again later may send it (Slack answered 5xx or 429, or could not be reached). */
export class HandoffError extends Error {
  constructor(
    message: string,
    readonly transient = false
  ) {
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

/**
 * The line that ends every task pqlkit creates: the crossing it announces (the hand-off, the
 * mark before it, the time of the crossing), by which a retry finds a task HubSpot created
 * for an attempt whose answer was lost. HubSpot has no idempotency key for task creation.
 */
function taskMark(intent: HandoffIntent): string {
  return escapeHtml(`pqlkit hand-off ${intent.crossing}:${intent.at}`)
}

/** The contact's task that carries `mark`: its associated tasks (v4), read 100 at a time. */
async function findTask(api: HubSpotCalls, contactId: string, mark: string): Promise<string | undefined> {
  const ids = await api.associatedIds('contacts', contactId, 'tasks')
  for (let i = 0; i < ids.length; i += 100) {
    const read = await api.batchRead('tasks', 'hs_object_id', ids.slice(i, i + 100), ['hs_task_body'])
    const found = read.results.find((record) => record.properties.hs_task_body?.includes(mark))
    if (found) return found.id
  }
  return undefined
}

function contactName(properties: Record<string, string | undefined>): string {
  return [properties.firstname, properties.lastname].filter(Boolean).join(' ') || properties.email || 'A contact'
}

export class DefaultHandoffSender implements HandoffSender {
  constructor(private readonly options: SenderOptions) {}

  /**
   * Sends the Slack post, then the task; each part is tried even when the other failed, and
   * once both were tried a failure is thrown: a transient one (a retry may send it) before
   * one for good. With `progress`, a part that landed before is not sent again.
   */
  async send(intent: HandoffIntent, contact: HandoffContact, progress?: HandoffProgress): Promise<void> {
    const values: Record<string, string | undefined> = {
      ...contact.properties,
      score: String(intent.score),
      tier: intent.tier ?? '',
      reasons: intent.reasons
    }
    const { slack, task } = intent.handoff
    const failures: unknown[] = []
    if (slack && !progress?.slackSent) {
      try {
        const webhook = slack.webhook ?? this.options.defaultWebhook
        if (!webhook) throw new HandoffError('no Slack webhook: the model has none and the host sets no default')
        await this.postSlack(webhook, intent, contact, values)
        await progress?.slackLanded()
      } catch (error) {
        failures.push(error)
      }
    }
    if (task && !progress?.taskSent) {
      try {
        const api = this.options.api
        if (!api) throw new HandoffError('no HubSpot client to create the task with')
        if (!contact.id) throw new HandoffError('the contact has no HubSpot id yet, so no task can be associated')
        const mark = taskMark(intent)
        const properties: Record<string, string> = {
          hs_task_subject: renderTemplate(task.title, values),
          hs_task_body: `${renderTemplate(task.body ?? '{{reasons}}', values, escapeHtml)}<p>${mark}</p>`,
          hs_timestamp: new Date((progress?.firstAttemptAt ?? this.options.now()) + task.dueMs).toISOString(),
          hs_task_status: 'NOT_STARTED',
          hs_task_type: 'TODO',
          hs_task_priority: task.priority ?? 'HIGH'
        }
        if (contact.properties.hubspot_owner_id) properties.hubspot_owner_id = contact.properties.hubspot_owner_id
        const found = progress?.attemptedBefore ? await findTask(api, contact.id, mark) : undefined
        // Under an outbox, a creation that got no answer is tried again by the outbox, which looks first.
        const taskId = found ?? (await api.createTask(properties, contact.id, { repeatUnanswered: progress?.repeatUnanswered ?? !progress }))
        await progress?.taskLanded(taskId)
      } catch (error) {
        failures.push(error)
      }
    }
    // A part that may land later is tried again later: the hand-off fails for good only when none may.
    if (failures.length > 0) throw failures.find((error) => !(error instanceof HandoffError) || error.transient) ?? failures[0]
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
      throw new HandoffError(`Slack could not be reached (${typeof code === 'string' ? code : 'network error'})`, true)
    }
    if (status < 200 || status >= 300) throw new HandoffError(`Slack answered ${status}`, status === 429 || status >= 500)
  }
}
