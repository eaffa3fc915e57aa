import type { HubSpotCalls, PropertyVersion, UpsertInput } from '../hubspot/api'
import { HANDOFF_CLAIM_PROPERTY } from '../hubspot/properties'
import { readRecords } from '../hubspot/records'
import { RecordResult, writeInBatches, WriteItem } from '../hubspot/write'
import type { Contact, SyncReport } from './write-back'

/**
 * Hand-offs under concurrency (docs/architecture.md): HubSpot has no conditional write, so
 * two workers that decide the same crossing from stale copies of a contact's state would
 * both send it. Each worker writes a claim (`pqlkit_handoff_claim`: its own token and the
 * crossings it decided) and reads the claim's history back: HubSpot stamps every version,
 * so the claim written first, the same for every reader, is the winner's (equal
 * timestamps, as two writes in one millisecond get: the one further down the history, written
 * earlier; never the token, which would let a claim written after the winner read back and
 * sent beat it). The winner sends; a loser leaves the crossing to it.
 */
type Claim = { t: string; c: string[]; p?: PendingHandoff[] }

/**
 * A hand-off whose Slack post or task failed transiently after the contact's write, kept in
 * the contact's claim (`p`) until a later processing of the contact sends the parts left: all
 * a send needs but the model's hand-off (found by `key`; the Slack webhook stays in the model).
 * `token` is new at each attempt, so each retry is claimed afresh (`retryCrossing`).
 */
export type PendingHandoff = {
  key: string
  crossing: string
  on: string
  at: number
  score: number
  tier?: string
  reasons: string
  slack: boolean
  task: boolean
  token: string
}

/** The crossing a retry of `pending` is claimed by: the first worker to claim it sends it. */
export function retryCrossing(pending: PendingHandoff): string {
  return `${pending.crossing}~${pending.token}`
}

export function newToken(): string {
  return Math.random().toString(36).slice(2, 12)
}

function isPending(entry: unknown): entry is PendingHandoff {
  const e = entry as Partial<PendingHandoff> | null
  return (
    typeof e === 'object' && e !== null &&
    typeof e.key === 'string' && typeof e.crossing === 'string' && typeof e.on === 'string' && typeof e.token === 'string' &&
    typeof e.at === 'number' && typeof e.score === 'number' && typeof e.reasons === 'string' &&
    typeof e.slack === 'boolean' && typeof e.task === 'boolean' && (e.tier === undefined || typeof e.tier === 'string')
  )
}

/** The pending hand-offs of a contact's claim as read (none when it has no claim, or an unreadable one). */
export function pendingHandoffs(claim: string | null | undefined): PendingHandoff[] {
  if (!claim) return []
  try {
    const { p } = JSON.parse(claim) as Partial<Claim>
    return Array.isArray(p) ? p.filter(isPending) : []
  } catch {
    return []
  }
}

/** What a worker claims on one contact: the crossings it decided or retries, and the pending hand-offs its claim carries on. */
export type Claimant = { contact: Contact; crossings: string[]; pending: PendingHandoff[] }

/**
 * Claims older than this before a worker's own are not its rivals: concurrent workers claim
 * within one batch of each other, and a crossing named again much later (a state that
 * started afresh has no marks) is a new one.
 */
export const CLAIM_WINDOW_MS = 10 * 60_000

function claimOf(version: PropertyVersion): Claim | undefined {
  try {
    const claim = JSON.parse(version.value) as Partial<Claim>
    return typeof claim.t === 'string' && Array.isArray(claim.c) ? { t: claim.t, c: claim.c.filter((c) => typeof c === 'string') } : undefined
  } catch {
    return undefined
  }
}

/**
 * Who claimed each crossing first, among a record's claim versions (newest first, as HubSpot
 * gives them: a later write goes on top and never reorders the versions below it) from
 * CLAIM_WINDOW_MS before `token`'s own on.
 */
function firstClaims(versions: PropertyVersion[], token: string): Map<string, string> {
  const all = versions
    .map((version, index) => ({ at: Date.parse(version.timestamp), index, claim: claimOf(version) }))
    .filter((entry): entry is { at: number; index: number; claim: Claim } => entry.claim !== undefined)
  const own = all.find((entry) => entry.claim.t === token)
  // Its own claim not read back: taken as won.
  if (own === undefined) return new Map()
  const claims = all
    .filter((entry) => entry.at >= own.at - CLAIM_WINDOW_MS)
    .sort((a, b) => a.at - b.at || b.index - a.index)
  const first = new Map<string, string>()
  for (const { claim } of claims) for (const crossing of claim.c) if (!first.has(crossing)) first.set(crossing, claim.t)
  return first
}

/**
 * Claims the contacts' crossings and returns, per contact, the crossings another worker
 * claimed first. A contact with no record yet (one its host creates: RudderStack's
 * destination delivers its write after this batch) is claimed by an upsert by email with its
 * identity, which creates the record bare: HubSpot's unique email makes the upsert find the
 * record that host or another worker created meanwhile, so every worker claims on one record,
 * and the hand-off's task has an id to be associated to. A claim that could not be written or
 * read back is taken as won: the hand-off goes (at least once) rather than never. Each claim
 * carries on the contact's pending hand-offs as read, so a claim never drops one.
 */
export async function claimCrossings(api: HubSpotCalls, claimants: Claimant[], report: SyncReport): Promise<Map<Contact, Set<string>>> {
  const lost = new Map<Contact, Set<string>>()
  const token = newToken()
  const claimed = new Map<string, Contact>()
  const updates: WriteItem<{ id: string; properties: Record<string, string> }>[] = []
  const creates: WriteItem<UpsertInput>[] = []
  const failed = (contact: Contact) => (result: RecordResult) =>
    report.problems.push(`hand-off claim for ${contact.email ?? contact.key} not written (${result.status === 'ok' ? '' : result.message}): sent unclaimed`)
  const crossings = new Map<Contact, string[]>()
  for (const { contact, crossings: decided, pending } of claimants) {
    crossings.set(contact, decided)
    const claim: Claim = { t: token, c: decided, ...(pending.length > 0 ? { p: pending } : {}) }
    const properties: Record<string, string> = { [HANDOFF_CLAIM_PROPERTY]: JSON.stringify(claim) }
    const id = contact.record?.id
    if (id !== undefined) {
      updates.push({ input: { id, properties }, ids: [id], matches: (record) => record.id === id, done: () => claimed.set(id, contact), failed: failed(contact) })
      continue
    }
    const email = contact.email
    if (email === undefined) continue
    if (contact.bindUserId && contact.userId) properties.pqlkit_user_id = contact.userId
    creates.push({
      input: { idProperty: 'email', id: email, properties },
      ids: [email],
      matches: (record) => (record.properties.email ?? '').toLowerCase() === email.toLowerCase(),
      done: (record) => {
        if (record === undefined) return
        contact.record = record
        claimed.set(record.id, contact)
      },
      failed: failed(contact)
    })
  }
  await writeInBatches(updates, (inputs) => api.batchUpdate('contacts', inputs))
  await writeInBatches(creates, (inputs) => api.batchUpsert('contacts', inputs))
  if (claimed.size === 0) return lost
  const { found } = await readRecords(api, 'contacts', 'hs_object_id', [...claimed.keys()], [HANDOFF_CLAIM_PROPERTY], [HANDOFF_CLAIM_PROPERTY])
  for (const [id, contact] of claimed) {
    const first = firstClaims(found.get(id)?.history?.[HANDOFF_CLAIM_PROPERTY] ?? [], token)
    const others = crossings.get(contact)!.filter((crossing) => (first.get(crossing) ?? token) !== token)
    if (others.length > 0) lost.set(contact, new Set(others))
  }
  return lost
}

/**
 * Writes the contacts' pending hand-offs as they stand after the sends (one batch update for
 * all): each claim written again with no crossing of its own (the claim that arbitrated stays
 * in the history) and `p`, none left clearing it. One that fails is reported: a hand-off
 * that failed again is then not sent (as before pending hand-offs), one sent is not sent again
 * (its retry crossing stays claimed by this worker).
 */
export async function writePending(api: HubSpotCalls, updates: { id: string; pending: PendingHandoff[] }[], report: SyncReport): Promise<void> {
  const token = newToken()
  const items: WriteItem<{ id: string; properties: Record<string, string> }>[] = updates.map(({ id, pending }) => {
    const claim: Claim = { t: token, c: [], ...(pending.length > 0 ? { p: pending } : {}) }
    return {
      input: { id, properties: { [HANDOFF_CLAIM_PROPERTY]: JSON.stringify(claim) } },
      ids: [id],
      matches: (record) => record.id === id,
      done: () => undefined,
      failed: (result) => report.problems.push(`pending hand-offs of contact ${id} not written (${result.status === 'ok' ? '' : result.message})`)
    }
  })
  await writeInBatches(items, (inputs) => api.batchUpdate('contacts', inputs))
}
