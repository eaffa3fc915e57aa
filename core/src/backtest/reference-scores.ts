import type { Model, Score, Section, SubjectKind } from '../model/compile'
import { evaluateSection } from '../engine/evaluate'
import type { ProductEvent } from '../engine/event'
import { createReplay, eventList, RejectedEvent, ReplayInput } from '../engine/simulate'
import { emptyState } from '../engine/state'
import type { Outcome } from './outcomes'

export type ReferenceOptions = {
  subject: SubjectKind
  /** Converters are scored this long before they converted. */
  leadMs: number
  /** When the others are scored; default: the latest event's timestamp (the end of the data). */
  asOf?: number
  /** Called as the replay goes, with events done and events in all. */
  onProgress?: (done: number, total: number) => void
}

/** One subject of the outcomes, scored at its reference time. */
export type ScoredSubject = {
  id: string
  converted: boolean
  referenceAt: number
  score: number
  tier?: string
  /** The points each rule of the score added at the reference time, in rule order. */
  contributions: number[]
  /** Whether any of its events came before its reference time. */
  seen: boolean
}

export type ReferenceScores = {
  /** The section's first score: the one the backtest measures. */
  score: Score
  subjects: ScoredSubject[]
  /** The latest event's timestamp. */
  endOfData: number
  rejected: RejectedEvent[]
  /** Subjects with events that the outcomes do not list (left out of the backtest). */
  unlisted: number
}

/** The section a backtest of `subject` measures, or why there is none. */
export function backtestSection(model: Model, subject: SubjectKind): Section | string {
  const section = subject === 'company' ? model.company : model.contact
  if (!section) return 'the model has no company section'
  if (section.scores.length === 0) return `the model has no ${subject} score`
  return section
}

/**
 * Scores every subject of the outcomes as it stood at its reference time: `leadMs` before
 * its conversion for a converter, `asOf` (default: the end of the data) for the others. One
 * replay of the whole stream (as `simulate` does it, so companies see every contact's
 * events), evaluating each subject at its reference time before any later event is applied.
 * Pure: no clock, no I/O.
 */
export function scoreAtReference(model: Model, events: ProductEvent[] | ReplayInput, outcomes: Outcome[], options: ReferenceOptions): ReferenceScores {
  const section = backtestSection(model, options.subject)
  if (typeof section === 'string') throw new RangeError(section)
  const score = section.scores[0]
  const input = Array.isArray(events) ? eventList(events) : events
  const endOfData = input.endOfData
  const checkpoints = outcomes
    .map((outcome) => ({
      outcome,
      referenceAt: outcome.convertedAt === undefined ? options.asOf ?? endOfData : outcome.convertedAt - options.leadMs
    }))
    .sort((a, b) => a.referenceAt - b.referenceAt || (a.outcome.id < b.outcome.id ? -1 : 1))
  const now = checkpoints.reduce((latest, checkpoint) => Math.max(latest, checkpoint.referenceAt), endOfData)
  const { valid, count, rejected } = input.ordered(now)
  const replay = createReplay(model, rejected)
  const subjects = options.subject === 'company' ? replay.companies : replay.contacts

  const scored: ScoredSubject[] = []
  const scoreAt = ({ outcome, referenceAt }: (typeof checkpoints)[number]) => {
    const subject = subjects.get(outcome.id)
    const evaluation = !subject
      ? evaluateSection(section, emptyState(), referenceAt)
      : options.subject === 'company'
        ? replay.evaluateCompany(subject, referenceAt)
        : replay.evaluateContact(subject, referenceAt)
    const result = evaluation.scores.find((candidate) => candidate.property === score.property)!
    scored.push({
      id: outcome.id,
      converted: outcome.convertedAt !== undefined,
      referenceAt,
      score: result.value,
      tier: result.tier,
      contributions: result.contributions,
      seen: subject !== undefined
    })
  }

  let next = 0
  let done = 0
  for (const { event, index } of valid) {
    while (next < checkpoints.length && checkpoints[next].referenceAt < event.at) scoreAt(checkpoints[next++])
    replay.apply(event, index)
    if (done++ % 500 === 0) options.onProgress?.(done - 1, count)
  }
  while (next < checkpoints.length) scoreAt(checkpoints[next++])
  options.onProgress?.(count, count)

  const listed = new Set(outcomes.map((outcome) => outcome.id))
  let unlisted = 0
  for (const key of subjects.keys()) if (!listed.has(key)) unlisted++
  scored.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { score, subjects: scored, endOfData, rejected, unlisted }
}
