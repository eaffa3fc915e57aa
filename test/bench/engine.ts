import {
  applyEvents,
  applyToContacts,
  decodeState,
  emptyState,
  encodeState,
  evaluateContact,
  finishBatch,
  Model,
  SegmentMessage,
  segmentMessageToProductEvent,
  StoredSubject,
  SubjectState,
  ValidEvent,
  validateEvent
} from '@pqlkit/core'
import { batches } from './streams'

export type EngineRun = {
  events: number
  seconds: number
  eventsPerSecond: number
  /** Heap the run keeps (its states or its event history) after a full GC, when `--expose-gc` is on. */
  retainedMb?: number
  peakRssMb: number
  subjects: number
}

const gc = (globalThis as { gc?: () => void }).gc
function heapMb(): number | undefined {
  if (!gc) return undefined
  gc()
  return process.memoryUsage().heapUsed / 1e6
}

/** Normalised and validated ahead of the clock: the benchmark times the engine, not parsing. */
export function prepare(messages: SegmentMessage[]): { event: ValidEvent; key: string }[] {
  const emailOf = new Map<string, string>()
  const now = Date.parse('2100-01-01T00:00:00.000Z')
  return messages.map((message) => {
    const event = validateEvent(segmentMessageToProductEvent(message), now)
    if (event.email && event.userId) emailOf.set(event.userId, event.email)
    const email = event.email ?? (event.userId ? emailOf.get(event.userId) : undefined)
    return { event, key: email ?? `user:${event.userId}` }
  })
}

function group<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const key = keyOf(item)
    const list = groups.get(key)
    if (list) list.push(item)
    else groups.set(key, [item])
  }
  return groups
}

class Peak {
  rss = process.memoryUsage().rss
  sample(): void {
    this.rss = Math.max(this.rss, process.memoryUsage().rss)
  }
}

/**
 * The pure batch step of SPEC §4 per host batch, as the pipeline runs it (`applyToContacts`,
 * then `finishBatch`): each subject's state decoded once, its events applied, attributed to
 * companies, every subject evaluated at the batch's time, encoded again. States live in a Map
 * of encoded strings, standing in for HubSpot's `pqlkit_state`.
 */
export function incremental(
  model: Model,
  events: { event: ValidEvent; key: string }[],
  batchSize: number,
  options: { codec: boolean } = { codec: true }
): EngineRun {
  const stored = new Map<string, string | SubjectState>()
  const load = (key: string): StoredSubject | undefined => {
    const kept = stored.get(key)
    if (kept === undefined) return undefined
    return { state: typeof kept === 'object' ? kept : decodeState(kept).state, properties: {} }
  }
  const keep = (key: string, state: SubjectState) => stored.set(key, options.codec ? encodeState(state) : state)
  const baseline = heapMb()
  const peak = new Peak()
  const started = process.hrtime.bigint()
  for (const batch of batches(events, batchSize)) {
    const now = batch[batch.length - 1].event.at
    const contacts = [...group(batch, (item) => item.key)].map(([key, items]) => ({
      key,
      email: key.includes('@') ? key : undefined,
      stored: load(key),
      events: items.map(({ event }, index) => ({ index, event }))
    }))
    const applied = applyToContacts(model, contacts, now)
    const companies = new Map([...applied.companyEvents.keys()].map((key) => [key, load(`company:${key}`)]))
    const outcome = finishBatch(model, applied, companies, now)
    for (const contact of outcome.contacts) keep(contact.key, contact.state)
    for (const company of outcome.companies) keep(`company:${company.key}`, company.state)
    peak.sample()
  }
  return result(events.length, started, peak, () => stored.size, baseline)
}

/**
 * The deliberately naive reference: keep every raw event, and for each subject a batch
 * touches, recompute its signals from all its events so far, then evaluate. Contacts only,
 * which flatters it.
 */
export function naive(model: Model, events: { event: ValidEvent; key: string }[], batchSize: number): EngineRun {
  const history = new Map<string, ValidEvent[]>()
  const baseline = heapMb()
  const peak = new Peak()
  const started = process.hrtime.bigint()
  for (const batch of batches(events, batchSize)) {
    const now = batch[batch.length - 1].event.at
    for (const [key, items] of group(batch, (item) => item.key)) {
      const all = history.get(key) ?? []
      all.push(...items.map(({ event }) => event))
      history.set(key, all)
      const state = emptyState()
      applyEvents(model.contact, state, all.map((event) => ({ event, contact: key })), now)
      evaluateContact(model, state, now, {})
    }
    peak.sample()
  }
  return result(events.length, started, peak, () => history.size, baseline)
}

/** `subjects` is read after the heap is measured, so what it counts is still alive then. */
function result(events: number, started: bigint, peak: Peak, subjects: () => number, baseline: number | undefined): EngineRun {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const after = heapMb()
  const retainedMb = baseline === undefined || after === undefined ? undefined : after - baseline
  return { events, seconds, eventsPerSecond: events / seconds, retainedMb, peakRssMb: peak.rss / 1e6, subjects: subjects() }
}
