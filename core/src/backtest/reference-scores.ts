import type { Model, Score, Section, SubjectKind } from '../model/compile'
import { evaluateSection } from '../engine/evaluate'
import type { ProductEvent } from '../engine/event'
import { createReplay, eventList, RejectedEvent, Replay, ReplayInput, ReplaySubject } from '../engine/simulate'
import { emptyState } from '../engine/state'
import type { Outcome } from './outcomes'

export type ReferenceOptions = {
  subject: SubjectKind
  /** Converters are scored this long before they converted. */
  leadMs: number
  /** When the others are scored; default: the latest event's timestamp (the end of the data). */
  asOf?: number
  /** Called as the replay goes, with how much of the input is done and how much there is (in the input's units: events of a list, bytes of a file). */
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

/** An outcome's subject, scored at `referenceAt`. */
type Checkpoint = { outcome: Outcome; referenceAt: number }

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
  // Scored at the end of the data: after every event, once the input has told when that is.
  const atEnd = (outcome: Outcome) => outcome.convertedAt === undefined && options.asOf === undefined
  const byTime = (a: Checkpoint, b: Checkpoint) => a.referenceAt - b.referenceAt || (a.outcome.id < b.outcome.id ? -1 : 1)
  const during: Checkpoint[] = outcomes
    .filter((outcome) => !atEnd(outcome))
    .map((outcome) => ({ outcome, referenceAt: outcome.convertedAt === undefined ? options.asOf! : outcome.convertedAt - options.leadMs }))
    .sort(byTime)

  let replay!: Replay
  let subjects!: Map<string, ReplaySubject>
  let scored: ScoredSubject[] = []
  let applied: RejectedEvent[] = []
  let next = 0
  const scoreAt = ({ outcome, referenceAt }: Checkpoint) => {
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

  const played = input.play(
    undefined,
    () => {
      replay = createReplay(model, (applied = []))
      subjects = options.subject === 'company' ? replay.companies : replay.contacts
      scored = []
      next = 0
      return (event, index) => {
        while (next < during.length && during[next].referenceAt < event.at) scoreAt(during[next++])
        replay.apply(event, index)
      }
    },
    options.onProgress
  )
  const endOfData = played.endOfData
  const rest = [...during.slice(next), ...outcomes.filter(atEnd).map((outcome) => ({ outcome, referenceAt: endOfData }))].sort(byTime)
  for (const checkpoint of rest) scoreAt(checkpoint)
  const rejected = [...played.rejected, ...applied]

  const listed = new Set(outcomes.map((outcome) => outcome.id))
  let unlisted = 0
  for (const key of subjects.keys()) if (!listed.has(key)) unlisted++
  scored.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { score, subjects: scored, endOfData, rejected, unlisted }
}
