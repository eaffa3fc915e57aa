import type { Decay, Handoff, Model, Rule, Score, Section, Tier } from '../model/compile'
import { CompiledCondition, compiledConditionBy, ConditionValue, evaluateCondition, isNumeric } from '../model/condition'
import { DAY_MS } from '../model/duration'
import { fingerprint } from '../hash'
import { signalValue, SignalValue } from './aggregate'
import { emptyState, SubjectState } from './state'
import { parseTimestamp } from '../time'

/** A property value as pqlkit computes it; datetimes are ISO 8601 strings (UTC, milliseconds). */
export type PropertyValue = number | boolean | string

export type Reason = { label: string; points: number }

export type ScoreResult = {
  property: string
  value: number
  tier?: string
  reasons: Reason[]
  /** The points each rule added, in rule order, before decay (empty for a composite score). */
  contributions: number[]
  updatedAt: number
}

/** A hand-off that fired: what the sender needs to post to Slack or create a task. */
export type HandoffIntent = {
  handoff: Handoff
  /** e.g. "enters Sales-Ready" */
  on: string
  at: number
  score: number
  tier?: string
  reasons: string
  /**
   * The crossing this intent announces: the hand-off and the mark the state held before it.
   * Two workers deciding one crossing from stale copies of a state name it alike, so one
   * claim arbitrates between them (docs/architecture.md, "Hand-offs under concurrency").
   */
  crossing: string
}

export type Evaluation = {
  /** Every signal that is set, every score, its _tier (when in a tier), _reasons and _updated_at. */
  properties: Record<string, PropertyValue>
  scores: ScoreResult[]
  handoffs: HandoffIntent[]
}

const MAX_REASONS_CHARS = 1000
const MAX_RISE_SAMPLES = 100

/** SPEC §3.3: halves round up (towards +∞). Float noise below 1e-9 is ignored. */
export function roundHalfUp(value: number): number {
  return Math.floor(Math.round(value * 1e9) / 1e9 + 0.5)
}

function clamp(value: number, min: number, max: number | undefined): number {
  return Math.min(Math.max(value, min), max ?? Number.POSITIVE_INFINITY)
}

export function formatReasons(reasons: Reason[]): string {
  let text = ''
  for (const reason of reasons) {
    const part = `${reason.label} (${reason.points > 0 ? '+' : ''}${reason.points})`
    const next = text ? `${text}; ${part}` : part
    if (next.length > MAX_REASONS_CHARS) break
    text = next
  }
  return text
}

export function tierOf(tiers: Tier[], score: number): string | undefined {
  let tier: string | undefined
  for (const candidate of tiers) if (score >= candidate.threshold) tier = candidate.name
  return tier
}

function numeric(value: SignalValue): number {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && isNumeric(value)) return Number(value)
  return 0
}

function decayed(decay: Decay, raw: number, inactivityMs: number): number {
  switch (decay.kind) {
    case 'linear':
      if (inactivityMs < decay.afterMs) return raw
      return raw - decay.points * (1 + Math.floor((inactivityMs - decay.afterMs) / decay.everyMs))
    case 'half_life':
      return raw > 0 ? raw * 0.5 ** (inactivityMs / decay.halfLifeMs) : raw
    case 'steps': {
      if (raw <= 0) return raw
      let keep = 1
      for (const step of decay.steps) if (step.afterMs <= inactivityMs) keep = step.keep
      return raw * keep
    }
  }
}

function ruleKey(rule: Rule, index: number): string {
  return fingerprint(`${index}:${rule.label}:${rule.points}`)
}

/**
 * A score's once-rule keys and property names, made once per compiled model rather than per
 * evaluation. `whole`: a rule score whose rules' points can only be whole numbers that sum
 * exactly (`wholePoints`), so its raw value is the same summed in any order.
 */
type ScoreNames = { ruleKeys: string[]; whole: boolean; tier: string; reasons: string; updatedAt: string }

const scoreNames = new WeakMap<Score, ScoreNames>()

function namesOf(score: Score): ScoreNames {
  let names = scoreNames.get(score)
  if (!names) {
    names = {
      ruleKeys: score.rules?.map(ruleKey) ?? [],
      whole: score.rules !== undefined && wholePoints(score.rules),
      tier: `${score.property}_tier`,
      reasons: `${score.property}_reasons`,
      updatedAt: `${score.property}_updated_at`
    }
    scoreNames.set(score, names)
  }
  return names
}

/**
 * Whether every rule adds a whole number of points, and all of them together stay within the
 * integers a double holds exactly: a rule adds at most its points, a `per` rule at most its
 * cap (one without a cap is unbounded).
 */
function wholePoints(rules: Rule[]): boolean {
  let bound = 0
  for (const rule of rules) {
    if (!Number.isInteger(rule.points)) return false
    const most = rule.per === undefined ? Math.abs(rule.points) : rule.cap
    if (most === undefined || !Number.isInteger(most)) return false
    bound += most
  }
  return Number.isSafeInteger(bound)
}

/**
 * What scoring needs of a section, worked out once per compiled model: each score's activity
 * signal and rules, reading signals by their position; and the scoring's working values, made
 * once and reset for every scoring (which runs to its end before another of the section
 * begins): the subject and time being scored, each signal's value once it is read.
 */
type SectionPlan = {
  activity: (number | undefined)[]
  /** Each score's rules (empty for a composite). */
  rules: RulesPlan[]
  composite: boolean
  state: SubjectState
  now: number
  values: (SignalValue | typeof UNREAD)[]
  /** A signal's value by position, worked out at its first read. */
  valueAt: (index: number) => SignalValue
}

/** A score's rules' conditions, compiled to read signals by position, and the position of each `per` signal (-1: none). */
type RulesPlan = { when: (CompiledCondition<number> | undefined)[]; per: number[] }

const sectionPlans = new WeakMap<Section, SectionPlan>()

function sectionPlan(section: Section): SectionPlan {
  let plan = sectionPlans.get(section)
  if (!plan) {
    const position = new Map(section.signals.map((signal, index) => [signal.name, index]))
    // A name that is not a signal (never in a valid model) reads as unset.
    const positionOf = (name: string) => position.get(name) ?? -1
    const signals = section.signals
    const made: SectionPlan = {
      activity: section.scores.map((score) => (score.activity === undefined ? undefined : position.get(score.activity))),
      rules: section.scores.map((score) => ({
        when: (score.rules ?? []).map((rule) => (rule.when === undefined ? undefined : compiledConditionBy(rule.when, positionOf))),
        per: (score.rules ?? []).map((rule) => (rule.per === undefined ? -1 : positionOf(rule.per)))
      })),
      composite: section.scores.some((score) => score.composite !== undefined),
      state: emptyState(),
      now: 0,
      values: new Array(signals.length).fill(UNREAD),
      valueAt: (index) => {
        if (index < 0) return undefined
        let value = made.values[index]
        if (value === UNREAD) value = made.values[index] = signalValue(signals[index], made.state, made.now)
        return value
      }
    }
    plan = made
    sectionPlans.set(section, plan)
  }
  return plan
}

const isoTimes = new Map<number, string>()

/**
 * A time as ISO 8601. Memoised: an evaluation writes the same few times (its `now`, a
 * subject's first and last activity) again and again, and formatting a date costs more than
 * the rest of a property.
 */
export function isoTime(at: number): string {
  let text = isoTimes.get(at)
  if (text === undefined) {
    if (isoTimes.size >= 4096) isoTimes.clear()
    text = new Date(at).toISOString()
    isoTimes.set(at, text)
  }
  return text
}

/**
 * A rule score's raw value, with its reasons and each rule's points pushed onto `reasons` and
 * `byRule` when they are given (without them, for a score of whole points only: see
 * `scoreSection`). Sets the once-marks of rules that first hold; evaluated again at the same
 * time, it gives the same value and changes nothing more.
 */
function rulePoints(
  score: Score,
  { when, per }: RulesPlan,
  state: SubjectState,
  read: (index: number) => SignalValue,
  now: number,
  reasons?: Reason[],
  byRule?: number[]
): number {
  // Made only when a once-rule first holds, and dropped again when empty.
  let marks: Record<string, number> | undefined = state.onceMarks[score.property]
  const keys = namesOf(score).ruleKeys
  const rules = score.rules!
  let raw = 0
  for (let order = 0; order < rules.length; order++) {
    const rule = rules[order]
    let points = 0
    const condition = when[order]
    const holds = condition === undefined || condition(read, now)
    if (rule.per !== undefined) {
      if (holds) {
        points = rule.points * Math.floor(numeric(read(per[order])) / rule.every)
        if (rule.cap !== undefined) points = Math.max(-rule.cap, Math.min(rule.cap, points))
      }
    } else if (rule.once) {
      const key = keys[order]
      if (holds && marks?.[key] === undefined) (marks ??= state.onceMarks[score.property] = {})[key] = now
      if (marks?.[key] !== undefined) points = rule.points
    } else if (holds) {
      points = rule.points
    }
    if (points !== 0) {
      if (reasons) reasons.push({ label: rule.label, points })
      else raw += points
    }
    byRule?.push(points)
  }
  if (marks && isEmpty(marks)) delete state.onceMarks[score.property]
  if (!reasons) return raw
  // Largest first; the sort is stable, so equal points keep the rules' order.
  if (reasons.length > 1) reasons.sort(byPoints)
  // Summed in that order, as points need not be whole numbers.
  for (const reason of reasons) raw += reason.points
  return raw
}

function byPoints(a: Reason, b: Reason): number {
  return Math.abs(b.points) - Math.abs(a.points)
}

function isEmpty(record: Record<string, unknown>): boolean {
  for (const _ in record) return false
  return true
}

function compositeReasons(score: Score, earlier: Map<string, number>): { raw: number; reasons: Reason[]; contributions: number[] } {
  let raw = 0
  const reasons: Reason[] = []
  for (const { property, weight } of score.composite!) {
    const part = weight * clamp(earlier.get(property) ?? 0, 0, 100)
    raw += part
    const points = roundHalfUp(part)
    if (points !== 0) reasons.push({ label: `${property} × ${weight}`, points })
  }
  reasons.sort(byPoints)
  return { raw, reasons, contributions: [] }
}

/** A signal value not worked out yet. */
const UNREAD = Symbol('unread')

/** A section's signal values (in the section's order; only with `detail`) and scores, before they are written out as properties. */
type Scored = { values: SignalValue[]; scores: ScoreResult[] }

/** The properties of an evaluation without `detail`: none (frozen, so nothing adds to them). */
const NO_PROPERTIES: Record<string, PropertyValue> = Object.freeze({})

/** A lean score's reasons and contributions: none made (frozen, so nothing adds to them). */
const NOT_MADE: never[] = Object.freeze([]) as never[]

/**
 * The scoring of SPEC §3.3 for one subject at `now`; updates the state's once-marks and last
 * scores in place. Without `detail`, a score of whole points is lean: its value, tier and
 * `updatedAt` without reasons or contributions (no objects per rule). Scoring again at the
 * same `now`, with `detail`, gives the same values and leaves the state as it was.
 */
function scoreSection(section: Section, state: SubjectState, now: number, detail: boolean): Scored {
  const plan = sectionPlan(section)
  const signals = section.signals
  // Each signal's value is worked out when first read: a lean scoring reads only the signals its rules name.
  plan.state = state
  plan.now = now
  plan.values.fill(UNREAD)
  const valueAt = plan.valueAt
  const scoreValues = plan.composite ? new Map<string, number>() : undefined
  const scores: ScoreResult[] = []
  for (let position = 0; position < section.scores.length; position++) {
    const score = section.scores[position]
    const lean = !detail && namesOf(score).whole
    let raw: number
    let reasons: Reason[] = NOT_MADE
    let contributions: number[] = NOT_MADE
    if (lean) raw = rulePoints(score, plan.rules[position], state, valueAt, now)
    else if (score.rules) raw = rulePoints(score, plan.rules[position], state, valueAt, now, (reasons = []), (contributions = []))
    else ({ raw, reasons, contributions } = compositeReasons(score, scoreValues!))
    let result = raw
    const activityIndex = plan.activity[position]
    const activity = activityIndex === undefined ? undefined : valueAt(activityIndex)
    if (score.decay && typeof activity === 'object') {
      const inactivityMs = Math.max(0, now - activity.at)
      result = decayed(score.decay, raw, inactivityMs)
      const lost = roundHalfUp(raw - result)
      if (lost > 0 && !lean) reasons.push({ label: `Inactive ${Math.floor(inactivityMs / DAY_MS)}d`, points: -lost })
    }
    const value = roundHalfUp(clamp(result, score.min, score.max))
    scoreValues?.set(score.property, value)
    const previous = state.lastScores[score.property]
    const updatedAt = previous && previous[0] === value ? previous[1] : now
    if (previous) {
      previous[0] = value
      previous[1] = updatedAt
    } else state.lastScores[score.property] = [value, updatedAt]
    scores.push({ property: score.property, value, tier: tierOf(score.tiers, value), reasons, contributions, updatedAt })
  }
  if (!detail) return { values: NOT_MADE, scores }
  for (let index = 0; index < signals.length; index++) valueAt(index)
  return { values: plan.values.slice() as SignalValue[], scores }
}

/** Every signal that is set, then each score with its _tier (when in a tier), _reasons and _updated_at. */
function propertiesOf(section: Section, { values, scores }: Scored): Record<string, PropertyValue> {
  const properties: Record<string, PropertyValue> = {}
  const signals = section.signals
  for (let index = 0; index < signals.length; index++) {
    const value = values[index]
    if (value !== undefined) properties[signals[index].name] = typeof value === 'object' ? isoTime(value.at) : value
  }
  scores.forEach((score, index) => {
    const names = namesOf(section.scores[index])
    properties[score.property] = score.value
    if (score.tier !== undefined) properties[names.tier] = score.tier
    properties[names.reasons] = formatReasons(score.reasons)
    properties[names.updatedAt] = isoTime(score.updatedAt)
  })
  return properties
}

/**
 * Evaluates a section's signals and scores for one subject at `now` (SPEC §3.3). Updates the
 * state's once-marks, last scores and `rises_by` history in place. Without `detail`, the
 * properties are left out (empty) and scores may be lean (`scoreSection`): the score values
 * and the state are the same, and an offline replay that evaluates after every event only
 * needs those.
 */
export function evaluateSection(section: Section, state: SubjectState, now: number, detail = true): Omit<Evaluation, 'handoffs'> {
  const scored = scoreSection(section, state, now, detail)
  return { properties: detail ? propertiesOf(section, scored) : NO_PROPERTIES, scores: scored.scores }
}

/**
 * The values a hand-off's `unless` reads: the contact's evaluated properties (made at the
 * first name asked for), then the hand-off properties HubSpot holds.
 */
export function handoffValues(
  model: Model,
  properties: () => Record<string, PropertyValue>,
  hubspot: Record<string, string | undefined>
): (name: string) => ConditionValue {
  const plan = handoffPlan(model)
  return (name) => {
    const value = properties()[name]
    if (value !== undefined) return plan.datetimeSignals.has(name) ? { at: parseTimestamp(String(value)) } : value
    return hubspot[name]
  }
}

/**
 * Evaluates a contact: its section, then the model's hand-offs (SPEC §3.5). `hubspot` holds
 * the hand-off properties read from HubSpot (email, firstname, lifecyclestage, …) for
 * `unless` conditions and templates. Returns intents only; sending is the caller's. Without
 * `detail`, as `evaluateSection`.
 */
export function evaluateContact(
  model: Model,
  state: SubjectState,
  now: number,
  hubspot: Record<string, string | undefined> = {},
  detail = true
): Evaluation {
  const plan = handoffPlan(model)
  // Each `enters` hand-off's score as it stood before this evaluation.
  const previous = plan.previous
  if (plan.enters) for (let position = 0; position < previous.length; position++) previous[position] = state.lastScores[model.handoffs[position].score]?.[0]
  let scored = scoreSection(model.contact, state, now, detail)
  // A hand-off's `unless` and its intent read the scores in full: scored again (the same values) when they were lean.
  let full = detail
  const detailed = (): Scored => {
    if (!full) scored = scoreSection(model.contact, state, now, (full = true))
    return scored
  }
  let properties = detail ? propertiesOf(model.contact, scored) : undefined
  let handoffs: HandoffIntent[] = NONE_FIRED
  let resolve: ((name: string) => ConditionValue) | undefined
  for (let position = 0; position < model.handoffs.length; position++) {
    const handoff = model.handoffs[position]
    const scoreIndex = plan.scoreIndex[position]
    if (scoreIndex === undefined) continue
    let score = scored.scores[scoreIndex]
    const fired = handoff.trigger.kind === 'enters'
      ? (previous[position] ?? Number.NEGATIVE_INFINITY) < handoff.trigger.threshold && score.value >= handoff.trigger.threshold
      : risesBy(state, handoff, score.value, now)
    if (!fired) continue
    resolve ??= handoffValues(model, () => (properties ??= propertiesOf(model.contact, detailed())), hubspot)
    if (handoff.unless && evaluateCondition(handoff.unless, resolve, now)) continue
    score = detailed().scores[scoreIndex]
    const crossing = `${handoff.key}@${state.handoffMarks[handoff.key] ?? 0}`
    state.handoffMarks[handoff.key] = now
    if (handoffs === NONE_FIRED) handoffs = []
    handoffs.push({
      handoff,
      crossing,
      on: handoff.label,
      at: now,
      score: score.value,
      tier: score.tier,
      reasons: formatReasons(score.reasons)
    })
  }
  recordRises(plan, state, scored.scores, now)
  return { properties: detail ? properties! : NO_PROPERTIES, scores: scored.scores, handoffs }
}

/** What evaluating hand-offs needs of a model, worked out once per compiled model. */
type HandoffPlan = {
  enters: boolean
  /** The contact signals whose values are datetimes. */
  datetimeSignals: ReadonlySet<string>
  /** Score property → the longest `within` of its `rises_by` hand-offs. */
  riseWindows: ReadonlyMap<string, number>
  /** Each hand-off's score by its position among the contact's scores (undefined: no such score). */
  scoreIndex: (number | undefined)[]
  /** Room for each hand-off's score before an evaluation, filled by each (`evaluateContact`). */
  previous: (number | undefined)[]
}

/** The hand-offs of an evaluation none of which fired (frozen, so nothing adds to them). */
const NONE_FIRED: never[] = Object.freeze([]) as never[]

const handoffPlans = new WeakMap<Model, HandoffPlan>()

function handoffPlan(model: Model): HandoffPlan {
  let plan = handoffPlans.get(model)
  if (!plan) {
    const riseWindows = new Map<string, number>()
    for (const handoff of model.handoffs) {
      if (handoff.trigger.kind !== 'rises_by') continue
      riseWindows.set(handoff.score, Math.max(riseWindows.get(handoff.score) ?? 0, handoff.trigger.withinMs))
    }
    plan = {
      enters: model.handoffs.some((handoff) => handoff.trigger.kind === 'enters'),
      datetimeSignals: new Set(model.contact.signals.filter((signal) => signal.valueType === 'datetime').map((signal) => signal.name)),
      riseWindows,
      scoreIndex: model.handoffs.map((handoff) => {
        const index = model.contact.scores.findIndex((score) => score.property === handoff.score)
        return index === -1 ? undefined : index
      }),
      previous: model.handoffs.map(() => undefined)
    }
    handoffPlans.set(model, plan)
  }
  return plan
}

/** SPEC §3.5: the score exceeds its lowest value of the last `within` by N; at most once per `within`. */
function risesBy(state: SubjectState, handoff: Handoff, value: number, now: number): boolean {
  if (handoff.trigger.kind !== 'rises_by') return false
  const { by, withinMs } = handoff.trigger
  const lastFired = state.handoffMarks[handoff.key]
  if (lastFired !== undefined && now - lastFired < withinMs) return false
  const samples = state.scoreChanges[handoff.score] ?? []
  const start = now - withinMs
  let lowest = 0
  if (samples.length > 0) {
    let carried: number | undefined
    lowest = Number.POSITIVE_INFINITY
    for (const [at, sample] of samples) {
      if (at <= start) carried = sample
      else lowest = Math.min(lowest, sample)
    }
    if (carried !== undefined) lowest = Math.min(lowest, carried)
  }
  return value - lowest >= by
}

/** Keeps, per watched score, its changes over the longest `within` (and the one value before). */
function recordRises(plan: HandoffPlan, state: SubjectState, scores: ScoreResult[], now: number): void {
  if (plan.riseWindows.size === 0) return
  for (const score of scores) {
    const window = plan.riseWindows.get(score.property)
    if (window === undefined) continue
    const samples = (state.scoreChanges[score.property] ??= [])
    if (samples.length === 0 || samples[samples.length - 1][1] !== score.value) samples.push([now, score.value])
    const start = now - window
    let firstInside = 0
    while (firstInside < samples.length && samples[firstInside][0] <= start) firstInside++
    const keepFrom = firstInside === samples.length ? samples.length - 1 : Math.max(0, firstInside - 1)
    const drop = Math.max(keepFrom, samples.length - MAX_RISE_SAMPLES)
    if (drop > 0) samples.splice(0, drop)
  }
}
