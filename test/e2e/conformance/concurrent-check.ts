import { createReplay, decodeState, Model, ProductEvent, RejectedEvent, replayOrder, segmentMessageToProductEvent, simulate, SubjectReport } from '@pqlkit/core'
import type { EmulatorDump, StoredRecord } from '../../harness/hubspot-emulator'
import type { Message } from './scenarios'
import { propertyDifferences } from './snapshot'

/** How far a concurrent run is from `pqlkit simulate`: every count 0 when HubSpot holds exactly what it computes. */
export type Summary = {
  /** Subjects (contacts and companies) with any of the problems below. */
  subjectsWrong: number
  /** Events some subject that should count them does not (their message id is not in its state). */
  eventsLost: number
  /** Signal values above what simulate computes (an event counted twice, a person counted twice by a company). */
  countsDoubled: number
  recordsMissing: number
  /** Subjects more than one HubSpot record holds (a contact created by email and again by `pqlkit_user_id`). */
  recordsDuplicated: number
  /** Events the host was answered with an error for, not a retry: none of the stream's events is invalid. */
  eventsRefused: number
  /** Tier-entry hand-offs (a Slack post, a task) that should have gone out once and did not. */
  handoffsMissing: number
  /** Tier-entry hand-offs sent more than once, or for a contact that never entered the tier. */
  handoffsDoubled: number
}

export type Check = { summary: Summary; problems: string[] }

export const NOTHING_WRONG: Check = {
  summary: { subjectsWrong: 0, eventsLost: 0, countsDoubled: 0, recordsMissing: 0, recordsDuplicated: 0, eventsRefused: 0, handoffsMissing: 0, handoffsDoubled: 0 },
  problems: []
}

/** What a concurrent run left behind besides HubSpot: the refusals the host got, the Slack posts. */
export type RunOutput = {
  refused: string[]
  slackPosts: string[]
  /** Where the route keeps states itself (`pqlkit serve`): each subject's, by record id, in place of its `pqlkit_state`. */
  states?: Map<string, string>
}

const COUNTED: ReadonlySet<string> = new Set(['count', 'sum', 'distinct', 'active_days', 'distinct_users'])
const contactKey = (key: string) => (key.startsWith('user:') ? key.slice(5) : key)

/** The message ids each subject of the replay counted, by the id simulate names it with. */
function expectedMessageIds(model: Model, events: ProductEvent[], now: number): Map<string, Set<string>> {
  const rejected: RejectedEvent[] = []
  const { valid } = replayOrder(events, now)
  const replay = createReplay(model, rejected)
  for (const { event, index } of valid) replay.apply(event, index)
  const ids = new Map<string, Set<string>>()
  for (const [key, subject] of replay.contacts) ids.set(`contact ${contactKey(key)}`, new Set(subject.state.messageIds))
  for (const [key, subject] of replay.companies) ids.set(`company ${key}`, new Set(subject.state.messageIds))
  return ids
}

/** userId → email, from every message that carries both (the identity a contact is found by either way). */
function emailsByUserId(messages: Message[]): Map<string, string> {
  const emails = new Map<string, string>()
  for (const message of messages) {
    const email = message.traits?.email ?? message.context?.traits?.email
    if (message.userId !== undefined && typeof email === 'string' && !emails.has(message.userId)) emails.set(message.userId, email)
  }
  return emails
}

/** Which expected subject a stored record holds: a contact by its email, else by the person its `pqlkit_user_id` is; a company by its key. */
function holderKey(kind: 'contact' | 'company', record: StoredRecord, emails: Map<string, string>): string | undefined {
  if (kind === 'company') return record.properties.pqlkit_company_key || undefined
  const userId = record.properties.pqlkit_user_id || undefined
  return record.properties.email || (userId === undefined ? undefined : (emails.get(userId) ?? userId))
}

/**
 * Compares what HubSpot holds after a concurrent run (and its sweep) with `pqlkit simulate`
 * on the same stream, subject by subject, and names every difference with its subject:
 * a record missing or held twice, properties that differ (`name: stored ≠ simulated`),
 * events the subject's state does not hold and events of others it holds, counts above
 * simulate's, and each tier-entry hand-off (Slack post, task) not sent exactly once; plus
 * every event the host was refused.
 */
export function checkConcurrentRun(model: Model, messages: Message[], now: number, dump: EmulatorDump, run: RunOutput): Check {
  const events = messages.map((message) => segmentMessageToProductEvent(message))
  const expected = simulate(model, events, now)
  const ids = expectedMessageIds(model, events, now)
  const emails = emailsByUserId(messages)
  const summary: Summary = { ...NOTHING_WRONG.summary }
  const problems: string[] = []
  const lost = new Set<string>()
  const holders = { contact: new Map<string, StoredRecord[]>(), company: new Map<string, StoredRecord[]>() }
  for (const [kind, records] of [['contact', dump.contacts], ['company', dump.companies]] as const) {
    for (const record of records) {
      const key = holderKey(kind, record, emails) ?? `record ${record.id}`
      holders[kind].set(key, [...(holders[kind].get(key) ?? []), record])
    }
  }
  const counted = new Set([...model.contact.signals, ...(model.company?.signals ?? [])].filter((signal) => COUNTED.has(signal.kind)).map((signal) => signal.name))

  const checkSubject = (subject: SubjectReport): string[] => {
    const records = holders[subject.subject].get(subject.id) ?? []
    holders[subject.subject].delete(subject.id)
    if (records.length === 0) {
      summary.recordsMissing++
      return ['not in HubSpot']
    }
    const found: string[] = []
    if (records.length > 1) {
      summary.recordsDuplicated++
      found.push(`${records.length} records hold it (ids ${records.map((record) => record.id).join(', ')})`)
    }
    // The record the host keeps writing: the one with the email (a contact), else the first.
    const record = records.find((candidate) => candidate.properties.email) ?? records[0]
    const differences = propertyDifferences(record.properties, subject)
    for (const { name, stored, expected } of differences) if (counted.has(name) && Number(stored) > Number(expected)) summary.countsDoubled++
    if (differences.length > 0) found.push(differences.map(({ name, stored, expected }) => `${name} ${stored || '(empty)'} ≠ ${expected}`).join(', '))
    const want = ids.get(`${subject.subject} ${subject.id}`) ?? new Set<string>()
    const state = run.states ? run.states.get(record.id) : record.properties.pqlkit_state
    const held = new Set(state ? decodeState(state).state.messageIds : [])
    const missing = [...want].filter((id) => !held.has(id))
    const foreign = [...held].filter((id) => !want.has(id))
    for (const id of missing) lost.add(id)
    if (missing.length > 0) found.push(`${missing.length} of its ${want.size} events lost`)
    if (foreign.length > 0) found.push(`${foreign.length} events of other subjects counted`)
    return found
  }

  for (const subject of expected.subjects) {
    const found = checkSubject(subject)
    if (found.length > 0) {
      summary.subjectsWrong++
      problems.push(`${subject.subject} ${subject.id}: ${found.join('; ')}`)
    }
  }
  for (const kind of ['contact', 'company'] as const) {
    for (const [key, records] of holders[kind]) {
      summary.recordsDuplicated++
      problems.push(`${kind} ${key}: ${records.length} record(s) simulate has no subject for (ids ${records.map((record) => record.id).join(', ')})`)
    }
  }
  summary.eventsLost = lost.size
  summary.eventsRefused = run.refused.length
  problems.push(...run.refused.map((refusal) => `refused: ${refusal}`))
  problems.push(...checkHandoffs(model, expected.subjects, dump, run, summary))
  return { summary, problems }
}

/**
 * Each tier-entry hand-off goes out exactly once per contact that simulate leaves in its tier
 * (every batch evaluates at the same `now`, where the example models' scores only grow with
 * events), and never for another: its Slack post (naming the contact's email) and its task
 * (associated to the contact).
 */
function checkHandoffs(model: Model, subjects: SubjectReport[], dump: EmulatorDump, run: RunOutput, summary: Summary): string[] {
  const problems: string[] = []
  const emailById = new Map(dump.contacts.map((record) => [record.id, record.properties.email || `record ${record.id}`]))
  for (const handoff of model.handoffs) {
    if (handoff.trigger.kind !== 'enters') continue
    const tier = handoff.trigger.tier
    const entered = new Set(
      subjects.filter((subject) => subject.subject === 'contact' && subject.properties[`${handoff.score}_tier`] === tier).map((subject) => subject.id)
    )
    const tally = (names: string[]) => names.reduce((counts, name) => counts.set(name, (counts.get(name) ?? 0) + 1), new Map<string, number>())
    const posts = tally(
      run.slackPosts
        .filter((post) => post.includes(` ${handoff.label} (score `))
        .map((post) => /\(([^()\s"]+@[^()\s"]+)\)/.exec(post)?.[1] ?? 'a contact without email')
    )
    const tasks = tally(
      handoff.task === undefined
        ? []
        : dump.tasks
            .filter((task) => task.properties.hs_task_subject?.startsWith(handoff.task!.title.split('{{')[0]))
            .flatMap((task) => (task.associations ?? []).map((association) => emailById.get(association.toId) ?? `record ${association.toId}`))
    )
    for (const email of [...new Set([...entered, ...posts.keys(), ...tasks.keys()])].sort()) {
      const want = entered.has(email) ? 1 : 0
      const sent: [string, number, number][] = []
      if (handoff.slack) sent.push(['Slack posts', posts.get(email) ?? 0, want])
      if (handoff.task) sent.push(['tasks', tasks.get(email) ?? 0, want])
      const wrong = sent.filter(([, count, expected]) => count !== expected)
      for (const [, count, expected] of wrong) {
        if (count < expected) summary.handoffsMissing += expected - count
        else summary.handoffsDoubled += count - expected
      }
      if (wrong.length > 0) problems.push(`contact ${email}: "${handoff.label}" ${wrong.map(([what, count, expected]) => `${count} ${what} (${expected} expected)`).join(', ')}`)
    }
  }
  return problems
}
