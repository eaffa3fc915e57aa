import { decodeState, messageIdList, SimulationResult, SubjectReport } from '@pqlkit/core'
import type { Emulator } from '../../harness/hubspot-emulator'

type Stored = { id: string; properties: Record<string, string | null>; associations?: { toObjectType: string; toId: string }[] }

/** What HubSpot holds, independent of record ids and of the order things were processed in. */
export type Snapshot = {
  contacts: Record<string, Record<string, unknown>>
  companies: Record<string, Record<string, unknown>>
  tasks: string[]
  associations: string[]
}

const HUBSPOT_OWN = new Set(['hs_object_id', 'createdate', 'lastmodifieddate'])
/**
 * A write's contribution holds that batch's events, a hand-off claim its worker's token: they
 * follow how events were batched and who sent, never what was stored.
 */
const BATCHING = new Set(['pqlkit_contribution', 'pqlkit_handoff_claim'])

/**
 * Properties as stored (an empty value and an absent one are the same to HubSpot), and the
 * state's aggregates: signals, company memory, associations made, the processed message ids
 * as a set. Left out, because they follow the order events arrived in rather than what was
 * stored: score-change history and evaluation marks (SPEC §3.5 `rises_by`, once-marks), and
 * the key a person is counted by in a company (`u`: their first identity, email or userId),
 * so distinct sets are compared by size; active days are a set too. With mappings the message
 * ids and the signals' definition fingerprints are left out too (docs/mappings.md): a host that
 * delivers an event once per mapping (Segment) keeps one id per message and mapping, and
 * RudderStack's pasted model holds the mappings as ordinary signals, with their own fingerprints.
 */
function normalise(record: Stored, mapped: boolean): Record<string, unknown> {
  const result: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(record.properties)) {
    if (HUBSPOT_OWN.has(name) || BATCHING.has(name) || value === null || value === '') continue
    if (name === 'pqlkit_state') {
      const { state } = decodeState(value)
      const signals = Object.fromEntries(
        Object.entries(state.signals).map(([name, { distinct: h, distinctLastDay: hd, activeDays: a, fingerprint, ...rest }]) => [
          name,
          { ...rest, ...(mapped ? {} : { fingerprint }), a: a && [...a].sort((x, y) => x - y), distinct: h?.length ?? (hd ? Object.keys(hd).length : undefined) }
        ])
      )
      result.pqlkit_state = {
        s: signals,
        ...(mapped ? {} : { m: messageIdList(state.messageIds).sort() }),
        c: state.lastCompany,
        ca: state.associatedCompany,
        n: state.name,
        dm: state.domain
      }
    } else result[name] = value
  }
  return result
}

export function snapshot(emulator: Emulator, { mapped = false }: { mapped?: boolean } = {}): Snapshot {
  const dump = emulator.dump() as unknown as { contacts: Stored[]; companies: Stored[]; tasks: Stored[]; associations: { from: string; to: string }[] }
  // As simulate names them: by email, else (never seen with one) by userId.
  const contactKey = (record: Stored) => record.properties.email ?? record.properties.pqlkit_user_id ?? record.id
  const byId = new Map(dump.contacts.map((record) => [record.id, contactKey(record)]))
  const companyById = new Map(dump.companies.map((record) => [record.id, record.properties.pqlkit_company_key]))
  return {
    contacts: Object.fromEntries(dump.contacts.map((record) => [contactKey(record), normalise(record, mapped)])),
    companies: Object.fromEntries(dump.companies.map((record) => [record.properties.pqlkit_company_key ?? record.id, normalise(record, mapped)])),
    tasks: dump.tasks
      .map((task) => `${task.properties.hs_task_subject} → ${(task.associations ?? []).map((a) => byId.get(a.toId)).join(',')}`)
      .sort(),
    associations: dump.associations.map((a) => `${byId.get(a.from)} → ${companyById.get(a.to)}`).sort()
  }
}

/**
 * The properties `subject` has in `pqlkit simulate` that `record` holds otherwise, as
 * `name: stored ≠ simulated` (`_updated_at` aside: simulate stamps per event; an empty value
 * and an absent one are the same to HubSpot).
 */
export function propertyDifferences(record: Record<string, unknown>, subject: SubjectReport): { name: string; stored: string; expected: string }[] {
  return Object.entries(subject.properties).flatMap(([name, value]) => {
    const stored = String(record[name] ?? '')
    return name.endsWith('_updated_at') || stored === String(value) ? [] : [{ name, stored, expected: String(value) }]
  })
}

/** Where the stored properties differ from `pqlkit simulate`. */
export function differencesFromSimulate(stored: Snapshot, expected: SimulationResult): string[] {
  const differences: string[] = []
  for (const subject of expected.subjects) {
    const record = (subject.subject === 'contact' ? stored.contacts : stored.companies)[subject.id]
    if (!record) {
      differences.push(`${subject.subject} ${subject.id} is not in HubSpot`)
      continue
    }
    for (const { name, stored, expected } of propertyDifferences(record, subject)) differences.push(`${subject.subject} ${subject.id} ${name}: ${stored} ≠ ${expected}`)
  }
  return differences
}

/**
 * SPEC §6 (docs/architecture.md, "RudderStack: contacts the destination creates" and "no timers"): where the
 * host's own HubSpot destination creates contacts after pqlkit ran, the batch that creates a
 * contact can neither associate it to its company (its next batch does) nor create its
 * hand-off task (no id yet; the Slack post goes), and a task HubSpot throttles is not tried
 * again (the sandbox cannot wait). Which contacts that touches follows where batches end and
 * which calls fail, so such a host may lack associations and tasks `reference` has. And as
 * that destination retries no record a 207 failed, a replay of the contact's events repeats
 * the batch's hand-off: SPEC §3.5's "at-least-once only if the HubSpot write itself failed".
 *
 * This returns `stored` with exactly those differences undone: an association whose contact
 * carries no association mark (`ca`) put back, with its mark; a task put back whose hand-off
 * the host logged as failed for its contact; and of a contact's tasks beyond `reference`'s,
 * one taken away per write of it the destination reported failed. Anything else that differs
 * still differs.
 */
export function withDeferredPutBack(stored: Snapshot, reference: Snapshot, host: { logs: string[]; failedWrites: string[] }): Snapshot {
  const contacts = structuredClone(stored.contacts)
  const associations = [...stored.associations]
  for (const association of reference.associations) {
    const [email, company] = association.split(' → ')
    const state = contacts[email]?.pqlkit_state as { ca?: string } | undefined
    if (associations.includes(association) || !state || state.ca !== undefined) continue
    associations.push(association)
    state.ca = company
  }
  const tasks = [...stored.tasks]
  const count = (list: string[], task: string) => list.filter((other) => other === task).length
  for (const task of new Set([...reference.tasks, ...stored.tasks])) {
    const email = task.slice(task.lastIndexOf(' → ') + 3)
    const logged = host.logs.some((line) => line.includes('hand-off "') && line.includes(`" for ${email} failed: `))
    const failedWrites = host.failedWrites.filter((failed) => failed === email).length
    for (let missing = count(reference.tasks, task) - count(tasks, task); missing > 0 && logged; missing--) tasks.push(task)
    for (let extra = count(tasks, task) - count(reference.tasks, task), allowed = failedWrites; extra > 0 && allowed > 0; extra--, allowed--) {
      tasks.splice(tasks.indexOf(task), 1)
    }
  }
  return { ...stored, contacts, associations: associations.sort(), tasks: tasks.sort() }
}
