import { handoffProperties } from '../engine/batch'
import { HandoffIntent, handoffValues, PropertyValue } from '../engine/evaluate'
import { HandoffContact, HandoffError, HandoffProgress, HandoffSender } from '../handoff/sender'
import type { HubSpotCalls } from '../hubspot/api'
import { HANDOFF_PROPERTIES, Model } from '../model/compile'
import { evaluateCondition } from '../model/condition'
import type { SettledSubject } from '../pipeline/state-store'
import type { Sql } from './database'

type Fired = { intent: HandoffIntent; contact: HandoffContact }

/**
 * The pipeline's hand-off sender on the server path: collects the hand-offs a batch fires;
 * those of committed contacts go to the outbox in the transaction that commits their state
 * (`enqueueHandoffs`), and the outbox sends them (`OutboxSender`).
 */
export class OutboxCollector implements HandoffSender {
  private fired: Fired[] = []

  async send(intent: HandoffIntent, contact: HandoffContact): Promise<void> {
    this.fired.push({ intent, contact })
  }

  take(): Fired[] {
    const fired = this.fired
    this.fired = []
    return fired
  }
}

/**
 * An outbox row holds the hand-off by its key (the model holds its Slack webhook and task:
 * no secret is stored), the contact's id and the values its `unless` reads.
 */
type Queued = { key: string; crossing: string; on: string; at: number; score: number; tier?: string; reasons: string; values: Record<string, PropertyValue> }

export async function enqueueHandoffs(sql: Sql, fired: Fired[], committed: SettledSubject[], now: number): Promise<void> {
  const contacts = new Map(committed.flatMap((subject) => (subject.objectType === 'contacts' && subject.record ? [[subject.record.id, subject]] : [])))
  for (const { intent, contact } of fired) {
    const subject = contact.id === undefined ? undefined : contacts.get(contact.id)
    if (!subject) continue
    const queued: Queued = { key: intent.handoff.key, crossing: intent.crossing, on: intent.on, at: intent.at, score: intent.score, tier: intent.tier, reasons: intent.reasons, values: subject.properties }
    await sql.run(`INSERT INTO outbox (intent, contact, next_at) VALUES (?, ?, ?)`, [JSON.stringify(queued), JSON.stringify({ id: contact.id, email: contact.properties.email }), now])
  }
}

export type OutboxResult = 'sent' | 'suppressed'

/** An outbox row's progress, and `begin`, which commits its first attempt's time before any part is sent. */
export type OutboxProgress = HandoffProgress & { begin(): Promise<void> }

/**
 * Sends a queued hand-off, or the parts of it an earlier attempt did not send. The server keeps
 * no copy of the properties people edit in HubSpot (lifecycle stage, owner, name), so they are
 * read for the contact right before sending (one read per attempt): before the first attempt
 * its `unless` is checked with them (a contact who became a customer in the meantime is not
 * handed off; a hand-off that began is finished), and the templates are filled with them.
 */
export class OutboxSender {
  constructor(
    private readonly model: Model,
    private readonly api: HubSpotCalls,
    private readonly sender: HandoffSender
  ) {}

  async send(intentText: string, contactText: string, progress: OutboxProgress): Promise<OutboxResult> {
    const queued = JSON.parse(intentText) as Queued
    const contact = JSON.parse(contactText) as { id: string; email?: string }
    const handoff = this.model.handoffs.find((candidate) => candidate.key === queued.key)
    if (!handoff) throw new HandoffError(`the hand-off "${queued.on}" is no longer in the model`)
    const read = await this.api.batchRead('contacts', 'hs_object_id', [contact.id], [...HANDOFF_PROPERTIES])
    const properties = handoffProperties(read.results[0]?.properties, contact.email)
    if (!progress.attemptedBefore) {
      if (handoff.unless && evaluateCondition(handoff.unless, handoffValues(this.model, () => queued.values, properties), queued.at)) return 'suppressed'
      await progress.begin()
    }
    const intent: HandoffIntent = { handoff, crossing: queued.crossing, on: queued.on, at: queued.at, score: queued.score, tier: queued.tier, reasons: queued.reasons }
    await this.sender.send(intent, { id: contact.id, properties }, progress)
    return 'sent'
  }
}
