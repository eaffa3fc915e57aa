import { loadModel } from '../model/load'
import { tierOf } from '../engine/evaluate'
import { analyse, thresholdFit } from './analyse'
import type { ScoredSubject } from './reference-scores'

const model = loadModel(`
version: 1
name: analyse
signals:
  a: { flag: "A" }
  b: { flag: "B" }
  c: { count: "C" }
  d: { flag: "D" }
scores:
  - property: pql_score
    rules:
      - { label: Did A, when: a, points: 20 }
      - { label: Did B, when: b, points: 15 }
      - { label: C units, per: c, points: 5, cap: 10 }
      - { label: Did D, when: d, points: 20 }
    tiers: { Cold: 0, Warm: 30, Hot: 60, Sales-Ready: 80 }
`)
const score = model.contact.scores[0]

/** A subject with a score and the rules (A, B, C, D) that held for it. */
function subject(id: string, converted: boolean, value: number, held: string): ScoredSubject {
  return {
    id,
    converted,
    referenceAt: 0,
    score: value,
    tier: tierOf(score.tiers, value),
    contributions: ['A', 'B', 'C', 'D'].map((rule, index) => (held.includes(rule) ? [20, 15, 5, 20][index] : 0)),
    seen: true
  }
}

const subjects = [
  subject('s1', true, 90, 'AB'),
  subject('s2', true, 80, 'AB'),
  subject('s3', true, 70, 'AB'),
  subject('s4', true, 30, 'BC'),
  subject('s5', false, 85, 'AB'),
  subject('s6', false, 40, 'BC'),
  subject('s7', false, 20, 'BC'),
  subject('s8', false, 10, 'B'),
  subject('s9', false, 0, 'B'),
  subject('s10', false, 0, 'B')
]

describe('analyse', () => {
  const report = analyse(score, subjects)

  it('counts subjects, converters and the average score of each group', () => {
    expect(report).toMatchObject({ score: 'pql_score', subjects: 10, converted: 4, rate: 0.4 })
    expect(report.averageScore).toEqual({ converted: 67.5, notConverted: 155 / 6 })
  })

  it('gives conversion by 20-point bucket, 100+ last, empty buckets without a rate', () => {
    expect(report.buckets.map(({ label, subjects, converted, rate }) => [label, subjects, converted, rate])).toEqual([
      ['0–19', 3, 0, 0],
      ['20–39', 2, 1, 0.5],
      ['40–59', 1, 0, 0],
      ['60–79', 1, 1, 1],
      ['80–99', 3, 2, 2 / 3],
      ['100+', 0, 0, null]
    ])
  })

  it('labels the first bucket <20 when a score is negative', () => {
    const negative = analyse(score, [subject('n', false, -5, ''), subject('p', true, 25, 'A')])
    expect(negative.buckets[0]).toMatchObject({ label: '<20', subjects: 1 })
  })

  it('gives conversion by tier, lowest first', () => {
    expect(report.tiers.map(({ tier, threshold, subjects, converted }) => [tier, threshold, subjects, converted])).toEqual([
      ['Cold', 0, 4, 0],
      ['Warm', 30, 2, 1],
      ['Hot', 60, 1, 1],
      ['Sales-Ready', 80, 3, 2]
    ])
  })

  it('gives each rule’s conversion held and not held, and its lift from m-estimated rates', () => {
    const didA = report.rules.find((rule) => rule.label === 'Did A')!
    expect(didA.held).toEqual({ subjects: 4, converted: 3, rate: 0.75 })
    expect(didA.notHeld).toEqual({ subjects: 6, converted: 1, rate: 1 / 6 })
    // (3 + 10 × 0.4) / (4 + 10) ÷ (1 + 10 × 0.4) / (6 + 10)
    expect(didA.lift).toBeCloseTo(0.5 / 0.3125, 10)
    const units = report.rules.find((rule) => rule.label === 'C units')!
    expect(units).toMatchObject({ kind: 'per', points: 10 })
    expect(units.lift).toBeCloseTo((5 / 13) / (7 / 17), 10)
  })

  it('ranks rules by lift; a rule held by everyone or no one has no lift and comes last', () => {
    expect(report.rules.map((rule) => [rule.label, rule.lift === null])).toEqual([
      ['Did A', false],
      ['C units', false],
      ['Did B', true],
      ['Did D', true]
    ])
  })

  it('suggests points proportional to ln(lift), positive points adding up to the model’s, rounded to 5', () => {
    // Did A is the only rule with a lift above 1: it gets all 30 points of A (20) and C's cap (10).
    // C units: ln(0.934) × 30 / ln(1.6) = -4.4, rounded to -5.
    expect(report.rules.map((rule) => rule.suggestedPoints)).toEqual([30, -5, null, null])
  })

  it('suggests the threshold with the best F1, compared with the top tier and the seeds’ rule of thumb', () => {
    expect(report.thresholds.suggested).toMatchObject({ threshold: 30, flagged: 6, precision: 4 / 6, recall: 1, f1: 0.8 })
    expect(report.thresholds.suggested!.rule).toContain('best F1')
    expect(report.thresholds.model).toMatchObject({ name: 'Sales-Ready tier', threshold: 80, flagged: 3, f1: 4 / 7 })
    // Converters average 67.5: 10–20% below is 54–61, the fit at 15% below (57).
    expect(report.thresholds.seeds).toMatchObject({ from: 54, to: 61, threshold: 57, flagged: 4, f1: 0.75 })
  })

  it('breaks an F1 tie towards the higher threshold (fewer false positives)', () => {
    const tied = [subject('a', true, 50, ''), subject('b', false, 40, ''), subject('c', false, 30, ''), subject('d', true, 20, '')]
    expect(thresholdFit(tied, 50).f1).toBeCloseTo(thresholdFit(tied, 20).f1, 10)
    expect(analyse(score, tied).thresholds.suggested!.threshold).toBe(50)
  })

  it('suggests no threshold and no seeds’ fit without converters', () => {
    const none = analyse(score, [subject('a', false, 50, 'A'), subject('b', false, 0, '')])
    expect(none.thresholds.suggested).toBeNull()
    expect(none.thresholds.seeds).toBeNull()
    expect(none.rate).toBe(0)
  })
})
