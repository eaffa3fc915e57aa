import type { Score } from '../model/compile'
import { roundHalfUp } from '../engine/evaluate'
import type { ScoredSubject } from './reference-scores'

/** How many subjects, how many of them converted, and the rate (null for none). */
export type Conversion = { subjects: number; converted: number; rate: number | null }

export type BucketConversion = Conversion & { label: string; from: number; to?: number }

export type TierConversion = Conversion & { tier: string; threshold?: number }

export type RuleLift = {
  label: string
  /** `points` for a `when` rule; the cap for a `per` rule (what it adds at most). */
  points: number | null
  kind: 'when' | 'per'
  held: Conversion
  notHeld: Conversion
  /** Conversion rate when held ÷ when not (see LIFT_RULE); null when always or never held. */
  lift: number | null
  /** See POINTS_RULE; null without a lift or a point value to scale. */
  suggestedPoints: number | null
}

/** How well "score ≥ threshold" picks the converters. */
export type ThresholdFit = {
  threshold: number
  /** subjects at or above the threshold */
  flagged: number
  precision: number | null
  recall: number | null
  f1: number
}

export type BacktestReport = {
  score: string
  subjects: number
  converted: number
  rate: number | null
  averageScore: { converted: number | null; notConverted: number | null }
  buckets: BucketConversion[]
  tiers: TierConversion[]
  /** By lift, highest first (rules without a lift last, in model order). */
  rules: RuleLift[]
  thresholds: {
    /** The threshold with the best F1 (ties: the higher threshold); null without converters. */
    suggested: (ThresholdFit & { rule: string }) | null
    /** The model's highest tier (80 without tiers), for comparison. */
    model: ThresholdFit & { name: string }
    /** The seeds' rule of thumb: 10–20% below the converters' average; the fit is at 15%. */
    seeds: (ThresholdFit & { from: number; to: number }) | null
  }
  rulesUsed: { lift: string; threshold: string; points: string }
}

export const LIFT_RULE =
  'Lift = conversion rate when the rule held ÷ when it did not, each rate an m-estimate (10 more subjects converting at the overall rate), so a rule held by a handful does not top the list by luck'
export const THRESHOLD_RULE = 'the threshold T with the best F1 score (harmonic mean of precision and recall) for "score ≥ T converts"'
export const POINTS_RULE =
  "proportional to ln(lift), so a rule that does not change the conversion rate earns 0 and one that lowers it costs points, scaled so the positive points add up to the model's, rounded to 5"

const BUCKET_WIDTH = 20
const BUCKETS = 6

function conversion(subjects: ScoredSubject[]): Conversion {
  const converted = subjects.filter((subject) => subject.converted).length
  return { subjects: subjects.length, converted, rate: subjects.length === 0 ? null : converted / subjects.length }
}

function average(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length
}

function buckets(subjects: ScoredSubject[]): BucketConversion[] {
  const anyNegative = subjects.some((subject) => subject.score < 0)
  return Array.from({ length: BUCKETS }, (_, index) => {
    const from = index * BUCKET_WIDTH
    const last = index === BUCKETS - 1
    const inside = subjects.filter(
      (subject) => (index === 0 || subject.score >= from) && (last || subject.score < from + BUCKET_WIDTH)
    )
    const label = last ? `${from}+` : index === 0 && anyNegative ? `<${BUCKET_WIDTH}` : `${from}–${from + BUCKET_WIDTH - 1}`
    return { label, from, ...(last ? {} : { to: from + BUCKET_WIDTH - 1 }), ...conversion(inside) }
  })
}

function tiers(score: Score, subjects: ScoredSubject[]): TierConversion[] {
  const rows: TierConversion[] = score.tiers.map((tier) => ({
    tier: tier.name,
    threshold: tier.threshold,
    ...conversion(subjects.filter((subject) => subject.tier === tier.name))
  }))
  const untiered = subjects.filter((subject) => subject.tier === undefined)
  if (score.tiers.length === 0 || untiered.length > 0) rows.unshift({ tier: '(no tier)', ...conversion(untiered) })
  return rows
}

/** The m-estimate of a rate: PRIOR_SUBJECTS more subjects converting at the overall rate. */
const PRIOR_SUBJECTS = 10
const smoothedRate = ({ subjects, converted }: Conversion, overall: number) =>
  (converted + PRIOR_SUBJECTS * overall) / (subjects + PRIOR_SUBJECTS)

function ruleLifts(score: Score, subjects: ScoredSubject[]): RuleLift[] {
  const overall = conversion(subjects).rate ?? 0
  const rules = (score.rules ?? []).map((rule, order): RuleLift & { order: number } => {
    const held = subjects.filter((subject) => subject.contributions[order] !== 0)
    const notHeld = subjects.filter((subject) => subject.contributions[order] === 0)
    const heldConversion = conversion(held)
    const notHeldConversion = conversion(notHeld)
    const lift =
      held.length === 0 || notHeld.length === 0 ? null : smoothedRate(heldConversion, overall) / smoothedRate(notHeldConversion, overall)
    return {
      label: rule.label,
      points: rule.per === undefined ? rule.points : rule.cap ?? null,
      kind: rule.per === undefined ? 'when' : 'per',
      held: heldConversion,
      notHeld: notHeldConversion,
      lift,
      suggestedPoints: null,
      order
    }
  })
  suggestPoints(rules)
  return rules
    .sort((a, b) => (b.lift ?? -1) - (a.lift ?? -1) || a.order - b.order)
    .map(({ order: _order, ...rule }) => rule)
}

/** POINTS_RULE, in place. */
function suggestPoints(rules: RuleLift[]): void {
  const scalable = rules.filter((rule) => rule.lift !== null && rule.points !== null)
  const modelTotal = scalable.reduce((sum, rule) => sum + Math.max(0, rule.points!), 0)
  const logTotal = scalable.reduce((sum, rule) => sum + Math.max(0, Math.log(rule.lift!)), 0)
  if (modelTotal === 0 || logTotal === 0) return
  for (const rule of scalable) rule.suggestedPoints = roundHalfUp((Math.log(rule.lift!) * modelTotal) / logTotal / 5) * 5
}

export function thresholdFit(subjects: ScoredSubject[], threshold: number): ThresholdFit {
  let flagged = 0
  let hits = 0
  let converted = 0
  for (const subject of subjects) {
    if (subject.converted) converted++
    if (subject.score >= threshold) {
      flagged++
      if (subject.converted) hits++
    }
  }
  return {
    threshold,
    flagged,
    precision: flagged === 0 ? null : hits / flagged,
    recall: converted === 0 ? null : hits / converted,
    f1: flagged + converted === 0 ? 0 : (2 * hits) / (flagged + converted)
  }
}

/** THRESHOLD_RULE over every score that occurs (any other threshold flags the same subjects as one of them). */
function bestThreshold(subjects: ScoredSubject[]): ThresholdFit | null {
  if (!subjects.some((subject) => subject.converted)) return null
  let best: ThresholdFit | null = null
  for (const threshold of new Set(subjects.map((subject) => subject.score))) {
    const fit = thresholdFit(subjects, threshold)
    if (!best || fit.f1 > best.f1 || (fit.f1 === best.f1 && threshold > best.threshold)) best = fit
  }
  return best
}

/**
 * Conversion by score bucket and tier, per-rule lift, the converters' average score, and a
 * suggested threshold and point values, from subjects scored at their reference times.
 */
export function analyse(score: Score, subjects: ScoredSubject[]): BacktestReport {
  const converters = subjects.filter((subject) => subject.converted)
  const others = subjects.filter((subject) => !subject.converted)
  const convertersAverage = average(converters.map((subject) => subject.score))
  const top = score.tiers[score.tiers.length - 1]
  const best = bestThreshold(subjects)
  return {
    score: score.property,
    ...conversion(subjects),
    averageScore: { converted: convertersAverage, notConverted: average(others.map((subject) => subject.score)) },
    buckets: buckets(subjects),
    tiers: tiers(score, subjects),
    rules: ruleLifts(score, subjects),
    thresholds: {
      suggested: best && { ...best, rule: THRESHOLD_RULE },
      model: { name: top ? `${top.name} tier` : 'a fixed 80', ...thresholdFit(subjects, top ? top.threshold : 80) },
      seeds:
        convertersAverage === null
          ? null
          : {
              from: roundHalfUp(convertersAverage * 0.8),
              to: roundHalfUp(convertersAverage * 0.9),
              ...thresholdFit(subjects, roundHalfUp(convertersAverage * 0.85))
            }
    },
    rulesUsed: { lift: LIFT_RULE, threshold: THRESHOLD_RULE, points: POINTS_RULE }
  }
}
