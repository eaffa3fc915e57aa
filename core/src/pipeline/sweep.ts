import { applyToContacts, finishBatch } from '../engine/batch'
import { LAST_EVENT_PROPERTY, ObjectType } from '../hubspot/properties'
import { readProperties, StoredRecord } from './state-store'
import { Company, Contact, PipelineParts, sendHandoffs, settleSubjects, SyncReport, writeCompanies, writeContacts } from './write-back'

export type SweepReport = { examined: number; changed: number; handoffs: SyncReport['handoffs']; problems: string[] }

export type SweepOptions = {
  /** Subjects whose last activity is older than this are left alone (default 180 days; Infinity: every subject). */
  horizonDays?: number
  onPage?: (examined: number, total: number) => void
  /** HubSpot's search allows 5 requests per second (SPEC §7); the sweep keeps under it. */
  sleep?: (ms: number) => Promise<void>
}

const SEARCH_INTERVAL_MS = 220
const SEARCH_PAGE = 100

/**
 * SPEC §4: time-based values (windows, decay, days_since) go stale without events. Finds
 * the subjects active within the horizon with HubSpot search (by `pqlkit_last_event_at`),
 * runs the batch step on them with no events as of `now` and writes only what changed.
 */
export async function sweep(parts: PipelineParts, now: number, options: SweepOptions = {}): Promise<SweepReport> {
  const { api, model } = parts
  const report: SyncReport & { examined: number; changed: number } = {
    examined: 0,
    changed: 0,
    handoffs: [],
    problems: [],
    results: [],
    written: { contacts: 0, companies: 0 }
  }
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const horizonDays = options.horizonDays ?? 180
  const active = (name: string) =>
    Number.isFinite(horizonDays)
      ? { propertyName: name, operator: 'GTE', value: String(now - horizonDays * 86_400_000) }
      : { propertyName: name, operator: 'HAS_PROPERTY' }
  for (const objectType of ['contacts', 'companies'] as ObjectType[]) {
    const section = objectType === 'contacts' ? model.contact : model.company
    if (!section) continue
    // Subjects written before pqlkit kept their last event time are found by their last_seen signals.
    const activity = [LAST_EVENT_PROPERTY, ...section.signals.filter((signal) => signal.kind === 'last_seen').map((signal) => signal.name)].slice(0, 5)
    let lastId = '0'
    for (;;) {
      const page = await api.search(objectType, {
        filterGroups: activity.map((name) => ({
          filters: [
            active(name),
            { propertyName: 'hs_object_id', operator: 'GT', value: lastId }
          ]
        })),
        properties: readProperties(model, objectType),
        sorts: ['hs_object_id'],
        limit: SEARCH_PAGE
      })
      if (page.results.length === 0) break
      lastId = page.results[page.results.length - 1].id
      report.examined += page.results.length
      const before = report.written.contacts + report.written.companies
      // The search gives no property history: the page is read again with it, so a write a
      // concurrent one overwrote is repaired here too.
      const reread = await parts.store.reread(objectType, page.results, now)
      for (const [id, failure] of reread.failed) report.problems.push(`${objectType} ${id} could not be read again: ${failure.status === 'ok' ? '' : failure.message}`)
      const records = page.results.flatMap((record) => reread.found.get(record.id) ?? [])
      for (const record of records) if (record.problem) report.problems.push(`${objectType} ${record.id}: ${record.problem}`)
      await sweepRecords(parts, objectType, records, now, report)
      report.changed += report.written.contacts + report.written.companies - before
      options.onPage?.(report.examined, page.total)
      if (page.results.length < SEARCH_PAGE) break
      await sleep(SEARCH_INTERVAL_MS)
    }
  }
  return { examined: report.examined, changed: report.changed, handoffs: report.handoffs, problems: report.problems }
}

/** One page of stored subjects, re-evaluated as of `now` with no events: the writes of what changed, then hand-offs. */
export async function sweepRecords(parts: PipelineParts, objectType: ObjectType, records: StoredRecord[], now: number, report: SyncReport): Promise<void> {
  const { model } = parts
  if (objectType === 'contacts') {
    const inputs = records.map((record) => {
      const email = record.properties.email?.toLowerCase() || undefined
      return { key: email ?? `id:${record.id}`, email, stored: record, events: [] }
    })
    const outcome = finishBatch(model, applyToContacts(model, inputs, now), new Map(), now)
    const contacts: Contact[] = outcome.contacts.map((contact, i) => ({ ...contact, record: records[i] }))
    await writeContacts(parts, contacts, report)
    await sendHandoffs(parts, contacts, report)
    settleSubjects(parts, contacts, [])
  } else {
    const keyed = records.filter((record) => record.properties.pqlkit_company_key)
    const stored = new Map(keyed.map((record) => [record.properties.pqlkit_company_key!, record]))
    const outcome = finishBatch(model, applyToContacts(model, [], now), stored, now)
    const companies: Company[] = outcome.companies.map((company) => ({ ...company, record: stored.get(company.key) }))
    await writeCompanies(parts, companies, report)
    settleSubjects(parts, [], companies)
  }
}
