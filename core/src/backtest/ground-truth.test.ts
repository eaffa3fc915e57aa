import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Model } from '../model/compile'
import { loadModel } from '../model/load'
import { segmentMessageToProductEvent } from '../hosts/segment-message'
import { DEFAULT_FAVOURED, generateOutcomes, GeneratorOptions } from '../generator/generate-events'
import { analyse, BacktestReport, thresholdFit } from './analyse'
import { parseOutcomes } from './outcomes'
import { ScoredSubject, scoreAtReference } from './reference-scores'

/**
 * The backtest on data where the right answer is known: the generator's ground truth makes
 * "Integration Connected" and "Advanced Filter Used" (and nothing else) raise a user's odds of
 * converting. Two models score them as "Used an integration" and "Tried a paid feature",
 * among other rules that go with engagement: the example model (scaled so that 80 is about
 * where its converters are) and a flat ten points a signal, where converters land around 50.
 */
const EXAMPLE = loadModel(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'project-management.yaml'), 'utf8'))
const TEN_A_SIGNAL = loadModel(`
version: 1
name: Ten points a signal
signals:
  has_activated:          { flag: "Project Created" }
  projects_created:       { count: "Project Created" }
  tasks_created:          { count: "Task Created" }
  teammates_invited:      { count: "Teammate Invited" }
  integrations_connected: { distinct: "Integration Connected", of: integration }
  used_paid_feature:      { flag: ["Automation Created", "Advanced Filter Used"] }
  used_api:               { flag: "API Call" }
  days_active_l30d:       { active_days: "*", window: 30d }
  plan:                   { trait: plan }
scores:
  - property: pql_score
    rules:
      - { label: Activated,            when: has_activated,               points: 10 }
      - { label: Created 3+ projects,  when: projects_created >= 3,       points: 10 }
      - { label: Created 20+ tasks,    when: tasks_created >= 20,         points: 10 }
      - { label: Invited a teammate,   when: teammates_invited >= 1,      points: 10 }
      - { label: Used an integration,  when: integrations_connected >= 1, points: 10 }
      - { label: Tried a paid feature, when: used_paid_feature,           points: 10 }
      - { label: Used the API,         when: used_api,                    points: 10 }
      - { label: Active 10+ days,      when: days_active_l30d >= 10,      points: 10 }
      - { label: Paying plan,          when: plan == "paying",            points: 10 }
    tiers: { Cold: 0, Warm: 30, Hot: 60, Sales-Ready: 80 }
`)
const FAVOURED_RULES = ['Used an integration', 'Tried a paid feature']

type Run = { report: BacktestReport; subjects: ScoredSubject[] }

/** Seed → model → the backtest of that seed's 1,000 users under that model. */
function backtests(seed: number): Map<Model, Run> {
  const options: GeneratorOptions = { profile: 'project-management', users: 1000, days: 30, end: '2026-11-01T00:00:00.000Z', seed }
  const { messages, outcomes } = generateOutcomes(options)
  const csv = ['email,converted_at', ...outcomes.map((outcome) => `${outcome.email},${outcome.convertedAt ?? ''}`)].join('\n')
  const file = parseOutcomes(csv, 'contact')
  expect(file.errors).toEqual([])
  const events = messages.map(segmentMessageToProductEvent)
  return new Map(
    [EXAMPLE, TEN_A_SIGNAL].map((model): [Model, Run] => {
      const scored = scoreAtReference(model, events, file.outcomes, { subject: 'contact', leadMs: 0 })
      return [model, { report: analyse(scored.score, scored.subjects), subjects: scored.subjects }]
    })
  )
}

describe('backtest on generated data with a known ground truth', () => {
  const seeds = [1, 2].map(backtests)
  const runs = seeds.flatMap((byModel) => [...byModel.values()])

  it('favours the events behind Used an integration and Tried a paid feature, with enough converters to measure', () => {
    expect(DEFAULT_FAVOURED['project-management']).toEqual(['Integration Connected', 'Advanced Filter Used'])
    for (const { report } of runs) expect(report.converted).toBeGreaterThan(40)
  })

  it('ranks the two favoured signals’ rules first by lift, under both models on each of two seeds', () => {
    for (const { report } of runs) {
      expect(report.rules.slice(0, 2).map((rule) => rule.label).sort()).toEqual([...FAVOURED_RULES].sort())
      expect(report.rules[1].lift!).toBeGreaterThan(report.rules[2].lift!)
    }
  })

  it('suggests the most points for the favoured rules', () => {
    for (const { report } of runs) {
      const favoured = report.rules.filter((rule) => FAVOURED_RULES.includes(rule.label)).map((rule) => rule.suggestedPoints!)
      const others = report.rules.filter((rule) => !FAVOURED_RULES.includes(rule.label)).map((rule) => rule.suggestedPoints ?? 0)
      expect(Math.min(...favoured)).toBeGreaterThanOrEqual(Math.max(...others))
    }
  })

  it('suggests a threshold with a better F1 than a fixed 80 on the data it was fitted on', () => {
    for (const { report } of runs) {
      expect(report.thresholds.model.threshold).toBe(80)
      expect(report.thresholds.suggested!.threshold).not.toBe(80)
      expect(report.thresholds.suggested!.f1).toBeGreaterThan(report.thresholds.model.f1)
    }
  })

  it('where converters score around 50, the threshold fitted on one seed beats 80 by F1 on another seed', () => {
    const [first, second] = seeds.map((byModel) => byModel.get(TEN_A_SIGNAL)!)
    const fitted = first.report.thresholds.suggested!.threshold
    expect(first.report.averageScore.converted!).toBeLessThan(60)
    expect(thresholdFit(second.subjects, fitted).f1).toBeGreaterThan(2 * thresholdFit(second.subjects, 80).f1)
  })

  it('shows conversion rising with the score: the top bucket with anyone in it converts more than the 0–19 bucket', () => {
    for (const { report } of runs) {
      const [lowest] = report.buckets
      const highest = report.buckets.filter((bucket) => bucket.subjects > 0).pop()!
      expect(highest.rate!).toBeGreaterThan(3 * lowest.rate!)
      expect(report.averageScore.converted!).toBeGreaterThan(report.averageScore.notConverted!)
    }
  })
})
