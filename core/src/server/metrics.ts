import { Counter, Gauge, Registry } from 'prom-client'
import type { Database } from './database'
import type { HubSpotCounts } from './drain-loop'
import { inboxCounts } from './inbox'

/** `GET /metrics` (Prometheus text format): one registry per server, never a label holding an id, email or secret. */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly accepted: Counter<'source'>
  readonly duplicates: Counter<'source'>
  readonly rejected: Counter<'source'>
  readonly processed: Counter<'result'>
  readonly handoffs: Counter<'result'>

  constructor(db: Database, hubspot: () => HubSpotCounts, now: () => number) {
    const registers = [this.registry]
    this.accepted = new Counter({ name: 'pqlkit_events_accepted_total', help: 'Events committed to the inbox', labelNames: ['source'], registers })
    this.duplicates = new Counter({ name: 'pqlkit_events_duplicate_total', help: 'Events already in the inbox (redeliveries)', labelNames: ['source'], registers })
    this.rejected = new Counter({ name: 'pqlkit_events_rejected_total', help: 'Events refused at the door (unreadable)', labelNames: ['source'], registers })
    this.processed = new Counter({ name: 'pqlkit_events_processed_total', help: 'Inbox events processed, by result (ok, invalid, retryable)', labelNames: ['result'], registers })
    this.handoffs = new Counter({ name: 'pqlkit_handoffs_total', help: 'Outbox hand-offs, by result (sent, suppressed, failed, retrying)', labelNames: ['result'], registers })
    let counts: ReturnType<typeof inboxCounts> | undefined
    // One query per scrape for the three inbox gauges.
    const current = () => (counts ??= inboxCounts(db).finally(() => setImmediate(() => (counts = undefined))))
    new Gauge({
      name: 'pqlkit_inbox_pending',
      help: 'Events waiting in the inbox',
      registers,
      async collect() {
        this.set((await current()).pending)
      }
    })
    new Gauge({
      name: 'pqlkit_inbox_lag_seconds',
      help: 'Age of the oldest unprocessed event in the inbox (0 when empty)',
      registers,
      async collect() {
        const oldest = (await current()).oldestPendingAt
        this.set(oldest === undefined ? 0 : Math.max(0, now() - oldest) / 1000)
      }
    })
    new Gauge({
      name: 'pqlkit_dead_letters',
      help: 'Events HubSpot or the model rejected for good (pqlkit inbox list)',
      registers,
      async collect() {
        this.set((await current()).deadLetters)
      }
    })
    new Gauge({
      name: 'pqlkit_hubspot_calls',
      help: 'HubSpot API calls made by this process',
      registers,
      collect() {
        this.set(hubspot().calls)
      }
    })
    new Gauge({
      name: 'pqlkit_hubspot_429',
      help: 'HubSpot 429 (rate limit) answers seen by this process',
      registers,
      collect() {
        this.set(hubspot().throttled)
      }
    })
  }
}
