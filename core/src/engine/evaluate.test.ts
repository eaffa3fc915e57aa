import type { Model } from '../model/compile'
import { loadModel } from '../model/load'
import { applyEvents } from './aggregate'
import { evaluateContact, evaluateSection, formatReasons, roundHalfUp, tierOf } from './evaluate'
import { validateEvent } from './event'
import { emptyState, SubjectState } from './state'

const T0 = Date.parse('2026-03-10T12:00:00.000Z')
const HOUR = 3_600_000
const DAY = 24 * HOUR
const ADA = 'ada@acme.io'

const BASE_SIGNALS = `
  activated: { flag: "Project Created" }
  projects: { count: "Project Created" }
  projects_l7d: { count: "Project Created", window: 7d }
  calls: { sum: "API Call", of: calls }
  last_activity: { last_seen: "*" }
  plan: { trait: plan }
`

/** A model with the base signals plus `scores` (YAML list items) and `extra` top-level YAML. */
function model(scores: string, extra = ''): Model {
  return loadModel(`version: 1\nname: test\nsignals:${BASE_SIGNALS}scores:\n${scores}\n${extra}`)
}

let sequence = 0

/** Applies track events (name, count or calls) to a contact at time `at`. */
function track(m: Model, state: SubjectState, at: number, name: string, properties?: Record<string, unknown>, times = 1): void {
  const events = Array.from({ length: times }, () =>
    validateEvent({ kind: 'track', messageId: `m-${++sequence}`, timestamp: new Date(at).toISOString(), email: ADA, event: name, properties }, at)
  )
  applyEvents(m.contact, state, events.map((event) => ({ event, contact: ADA })), at)
}

function identify(m: Model, state: SubjectState, at: number, traits: Record<string, unknown>): void {
  const event = validateEvent({ kind: 'identify', messageId: `m-${++sequence}`, timestamp: new Date(at).toISOString(), email: ADA, traits }, at)
  applyEvents(m.contact, state, [{ event, contact: ADA }], at)
}

function score(m: Model, state: SubjectState, now: number, property = 'pql_score'): number {
  const result = evaluateSection(m.contact, state, now).scores.find((s) => s.property === property)
  if (!result) throw new Error(`no score ${property}`)
  return result.value
}

function reasonsText(m: Model, state: SubjectState, now: number, property = 'pql_score'): string {
  return evaluateSection(m.contact, state, now).properties[`${property}_reasons`] as string
}

describe('rules (SPEC §3.3)', () => {
  it('a when rule adds its points while its condition holds', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: Activated, when: activated, points: 25 }\n      - { label: Paying, when: plan == "paying", points: 20 }')
    const state = emptyState()
    expect(score(m, state, T0)).toBe(0)
    track(m, state, T0, 'Project Created')
    expect(score(m, state, T0)).toBe(25)
    identify(m, state, T0, { plan: 'Paying' })
    expect(score(m, state, T0)).toBe(45)
    identify(m, state, T0 + 1, { plan: 'free' })
    expect(score(m, state, T0 + 1)).toBe(25)
  })

  it('a per rule adds points × floor(value / every), at most cap', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: API usage, per: calls, every: 10, points: 1, cap: 20 }')
    const state = emptyState()
    track(m, state, T0, 'API Call', { calls: 39 })
    expect(score(m, state, T0)).toBe(3)
    expect(reasonsText(m, state, T0)).toBe('API usage (+3)')
    track(m, state, T0, 'API Call', { calls: 1 })
    expect(score(m, state, T0)).toBe(4)
    track(m, state, T0, 'API Call', { calls: 1000 })
    expect(score(m, state, T0)).toBe(20)
  })

  it('a per rule counts every 1 by default', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: Projects, per: projects, points: 5 }')
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 3)
    expect(score(m, state, T0)).toBe(15)
  })

  it('a per rule with negative points is capped in absolute value', () => {
    const m = model('  - property: pql_score\n    min: -100\n    rules:\n      - { label: Errors, per: projects, points: -3, cap: 10 }')
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 2)
    expect(score(m, state, T0)).toBe(-6)
    track(m, state, T0, 'Project Created', undefined, 3)
    expect(score(m, state, T0)).toBe(-10)
    expect(reasonsText(m, state, T0)).toBe('Errors (-10)')
  })

  it('a per rule with a when adds points only while the when holds', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: Paid projects, per: projects, points: 10, when: plan == "paying" }')
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 2)
    expect(score(m, state, T0)).toBe(0)
    identify(m, state, T0, { plan: 'paying' })
    expect(score(m, state, T0)).toBe(20)
  })

  it('a rule that contributes nothing gives no reason', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: Activated, when: activated, points: 25 }\n      - { label: API, per: calls, every: 10, points: 1 }')
    const state = emptyState()
    track(m, state, T0, 'API Call', { calls: 9 })
    expect(evaluateSection(m.contact, state, T0).scores[0].reasons).toEqual([])
    expect(reasonsText(m, state, T0)).toBe('')
  })
})

describe('once: true', () => {
  const m = model(
    '  - property: pql_score\n    rules:\n      - { label: Busy week, when: projects_l7d >= 2, points: 40, once: true }\n      - { label: Busy now, when: projects_l7d >= 2, points: 5 }'
  )

  it('keeps its points after the condition stops holding, and records when it was earned', () => {
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 2)
    expect(score(m, state, T0)).toBe(45)
    expect(Object.values(state.onceMarks.pql_score)).toEqual([T0])
    const later = T0 + 10 * DAY
    expect(score(m, state, later)).toBe(40)
    expect(reasonsText(m, state, later)).toBe('Busy week (+40)')
    expect(Object.values(state.onceMarks.pql_score)).toEqual([T0])
  })

  it('keeps the time it was first earned on later evaluations while the condition holds', () => {
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 2)
    score(m, state, T0)
    score(m, state, T0 + HOUR)
    expect(Object.values(state.onceMarks.pql_score)).toEqual([T0])
  })

  it('is not earned if the condition never held at an evaluation', () => {
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 2)
    expect(score(m, state, T0 + 10 * DAY)).toBe(0)
    expect(state.onceMarks.pql_score).toBeUndefined()
  })
})

describe('reasons', () => {
  it('are sorted by absolute points, ties in rule order, formatted Label (+N) / Label (-N) and joined with "; "', () => {
    const m = model(
      [
        '  - property: pql_score',
        '    min: -100',
        '    rules:',
        '      - { label: A, when: activated, points: 10 }',
        '      - { label: B, when: activated, points: -30 }',
        '      - { label: C, when: activated, points: 20 }',
        '      - { label: D, when: activated, points: 10 }',
        '      - { label: E, when: activated, points: -10 }',
        '      - { label: F, when: not activated, points: 99 }'
      ].join('\n')
    )
    const state = emptyState()
    track(m, state, T0, 'Project Created')
    const evaluation = evaluateSection(m.contact, state, T0)
    expect(evaluation.scores[0].reasons).toEqual([
      { label: 'B', points: -30 },
      { label: 'C', points: 20 },
      { label: 'A', points: 10 },
      { label: 'D', points: 10 },
      { label: 'E', points: -10 }
    ])
    expect(evaluation.properties.pql_score_reasons).toBe('B (-30); C (+20); A (+10); D (+10); E (-10)')
    expect(evaluation.scores[0].value).toBe(0)
  })

  it('a rule without a label is named by its condition text', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { when: projects >= 3, points: 20 }')
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 3)
    expect(reasonsText(m, state, T0)).toBe('projects >= 3 (+20)')
  })

  it('the reasons text is at most 1000 characters, cut between whole reasons', () => {
    const rules = Array.from({ length: 8 }, (_, i) => `      - { label: "${String(i).repeat(150)}", when: activated, points: ${10 + i} }`)
    const m = model(`  - property: pql_score\n    rules:\n${rules.join('\n')}`)
    const state = emptyState()
    track(m, state, T0, 'Project Created')
    const evaluation = evaluateSection(m.contact, state, T0)
    const full = formatReasonsUncut(evaluation.scores[0].reasons)
    expect(full.length).toBeGreaterThan(1000)
    const text = evaluation.properties.pql_score_reasons as string
    expect(text.length).toBeLessThanOrEqual(1000)
    expect(text.length).toBeGreaterThan(800)
    expect(full.startsWith(text)).toBe(true)
    expect(text.endsWith(')')).toBe(true)
    expect(text.startsWith(`${'7'.repeat(150)} (+17); ${'6'.repeat(150)} (+16)`)).toBe(true)
  })

  it('formatReasons gives the empty string for no reasons', () => {
    expect(formatReasons([])).toBe('')
  })
})

function formatReasonsUncut(reasons: { label: string; points: number }[]): string {
  return reasons.map((r) => `${r.label} (${r.points > 0 ? '+' : ''}${r.points})`).join('; ')
}

describe('decay', () => {
  const linear = model(
    '  - property: pql_score\n    activity: last_activity\n    rules:\n      - { label: Activated, when: activated, points: 50 }\n    decay: { after: 7d, every: 7d, points: 10 }'
  )

  it('linear decay subtracts nothing until 7d of inactivity', () => {
    const state = emptyState()
    track(linear, state, T0, 'Project Created')
    expect(score(linear, state, T0)).toBe(50)
    expect(score(linear, state, T0 + 7 * DAY - 1)).toBe(50)
    expect(reasonsText(linear, state, T0 + 7 * DAY - 1)).toBe('Activated (+50)')
  })

  it('decay subtracts 10 per week after 7 days', () => {
    const state = emptyState()
    track(linear, state, T0, 'Project Created')
    expect(score(linear, state, T0 + 7 * DAY)).toBe(40)
    expect(score(linear, state, T0 + 14 * DAY - 1)).toBe(40)
    expect(score(linear, state, T0 + 14 * DAY)).toBe(30)
    expect(score(linear, state, T0 + 21 * DAY)).toBe(20)
  })

  it('linear decay is reported as Inactive Nd (-D) after the rules', () => {
    const state = emptyState()
    track(linear, state, T0, 'Project Created')
    expect(reasonsText(linear, state, T0 + 7 * DAY)).toBe('Activated (+50); Inactive 7d (-10)')
    expect(reasonsText(linear, state, T0 + 14 * DAY - 1)).toBe('Activated (+50); Inactive 13d (-10)')
  })

  it('linear decay below zero is clamped to 0', () => {
    const state = emptyState()
    track(linear, state, T0, 'Project Created')
    expect(score(linear, state, T0 + 70 * DAY)).toBe(0)
  })

  it('new activity resets the inactivity', () => {
    const state = emptyState()
    track(linear, state, T0, 'Project Created')
    expect(score(linear, state, T0 + 8 * DAY)).toBe(40)
    track(linear, state, T0 + 8 * DAY, 'Page Viewed')
    expect(score(linear, state, T0 + 8 * DAY)).toBe(50)
  })

  const halfLife = (points: number) =>
    model(`  - property: pql_score\n    activity: last_activity\n    rules:\n      - { label: Activated, when: activated, points: ${points} }\n    decay: { half_life: 7d }`)

  it('half_life halves the score at exactly one half-life', () => {
    const m = halfLife(40)
    const state = emptyState()
    track(m, state, T0, 'Project Created')
    expect(score(m, state, T0)).toBe(40)
    expect(score(m, state, T0 + 7 * DAY)).toBe(20)
    expect(score(m, state, T0 + 14 * DAY)).toBe(10)
  })

  it('half_life rounds half up: raw 25 at one half-life gives 13', () => {
    const m = halfLife(25)
    const state = emptyState()
    track(m, state, T0, 'Project Created')
    expect(score(m, state, T0 + 7 * DAY)).toBe(13)
    expect(reasonsText(m, state, T0 + 7 * DAY)).toBe('Activated (+25); Inactive 7d (-13)')
  })

  it('half_life leaves a score of zero or less alone', () => {
    const m = model(
      '  - property: pql_score\n    min: -100\n    activity: last_activity\n    rules:\n      - { label: Quiet, when: activated, points: -20 }\n    decay: { half_life: 7d }'
    )
    const state = emptyState()
    track(m, state, T0, 'Project Created')
    expect(score(m, state, T0 + 7 * DAY)).toBe(-20)
  })

  const steps = model(
    '  - property: pql_score\n    activity: last_activity\n    rules:\n      - { label: Activated, when: activated, points: 50 }\n    decay: { steps: [{ after: 14d, keep: 0 }, { after: 7d, keep: 0.5 }] }'
  )

  it('steps keep the keep of the largest after ≤ inactivity', () => {
    const state = emptyState()
    track(steps, state, T0, 'Project Created')
    expect(score(steps, state, T0 + 7 * DAY - 1)).toBe(50)
    expect(score(steps, state, T0 + 7 * DAY)).toBe(25)
    expect(score(steps, state, T0 + 14 * DAY - 1)).toBe(25)
    expect(score(steps, state, T0 + 14 * DAY)).toBe(0)
    expect(reasonsText(steps, state, T0 + 14 * DAY)).toBe('Activated (+50); Inactive 14d (-50)')
  })

  it('there is no decay while the activity signal is absent', () => {
    const m = loadModel(`version: 1
name: test
signals:
  first_project: { first_seen: "Project Created" }
  plan: { trait: plan }
scores:
  - property: pql_score
    activity: first_project
    rules:
      - { label: Paying, when: plan == "paying", points: 20 }
    decay: { after: 1d, every: 1d, points: 10 }
`)
    const state = emptyState()
    identify(m, state, T0, { plan: 'paying' })
    expect(score(m, state, T0 + 30 * DAY)).toBe(20)
    expect(reasonsText(m, state, T0 + 30 * DAY)).toBe('Paying (+20)')
  })
})

describe('clamping and rounding', () => {
  it('a score is clamped to min 0 by default', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: Quiet, when: not activated, points: -5 }')
    expect(score(m, emptyState(), T0)).toBe(0)
  })

  it('a score is clamped to its min and max', () => {
    const m = model(
      '  - property: pql_score\n    min: -3\n    max: 100\n    rules:\n      - { label: Quiet, when: not activated, points: -5 }\n      - { label: Many, per: projects, points: 30 }'
    )
    const state = emptyState()
    expect(score(m, state, T0)).toBe(-3)
    track(m, state, T0, 'Project Created', undefined, 5)
    expect(score(m, state, T0)).toBe(100)
  })

  it('roundHalfUp rounds halves towards +∞', () => {
    expect([0.5, 1.5, 2.5, 12.5, -0.5, -1.5, -2.5, 2.49, -2.51].map(roundHalfUp)).toEqual([1, 2, 3, 13, 0, -1, -2, 2, -3])
  })

  it('roundHalfUp ignores float noise just below a half', () => {
    expect(roundHalfUp(0.7 * 45)).toBe(32)
    expect(roundHalfUp(31.499999999999996)).toBe(32)
    expect(roundHalfUp(31.4999)).toBe(31)
  })
})

describe('tiers and score properties', () => {
  const tiered = model(
    '  - property: pql_score\n    rules:\n      - { label: Projects, per: projects, points: 10 }\n    tiers: { Cold: 0, Warm: 30, Hot: 60 }'
  )

  it('a score is in the tier with the highest threshold ≤ score', () => {
    const tiers = tiered.contact.scores[0].tiers
    expect([0, 29, 30, 59, 60, 1000].map((value) => tierOf(tiers, value))).toEqual(['Cold', 'Cold', 'Warm', 'Warm', 'Hot', 'Hot'])
  })

  it('a score below the lowest threshold has no tier and no _tier property', () => {
    const m = model('  - property: pql_score\n    rules:\n      - { label: Projects, per: projects, points: 10 }\n    tiers: { Hot: 60, Warm: 30 }')
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 2)
    const evaluation = evaluateSection(m.contact, state, T0)
    expect(evaluation.scores[0].tier).toBeUndefined()
    expect(evaluation.properties).not.toHaveProperty('pql_score_tier')
    track(m, state, T0, 'Project Created')
    expect(evaluateSection(m.contact, state, T0).properties.pql_score_tier).toBe('Warm')
  })

  it('an evaluation writes the score, its _tier, _reasons and _updated_at', () => {
    const state = emptyState()
    track(tiered, state, T0, 'Project Created', undefined, 6)
    const { properties } = evaluateSection(tiered.contact, state, T0)
    expect(properties.pql_score).toBe(60)
    expect(properties.pql_score_tier).toBe('Hot')
    expect(properties.pql_score_reasons).toBe('Projects (+60)')
    expect(properties.pql_score_updated_at).toBe('2026-03-10T12:00:00.000Z')
  })

  it('_updated_at changes only when the value changes', () => {
    const state = emptyState()
    track(tiered, state, T0, 'Project Created')
    expect(evaluateSection(tiered.contact, state, T0).properties.pql_score_updated_at).toBe(new Date(T0).toISOString())
    expect(evaluateSection(tiered.contact, state, T0 + HOUR).properties.pql_score_updated_at).toBe(new Date(T0).toISOString())
    track(tiered, state, T0 + 2 * HOUR, 'Project Created')
    const changed = evaluateSection(tiered.contact, state, T0 + 2 * HOUR)
    expect(changed.properties.pql_score).toBe(20)
    expect(changed.properties.pql_score_updated_at).toBe(new Date(T0 + 2 * HOUR).toISOString())
    expect(changed.scores[0].updatedAt).toBe(T0 + 2 * HOUR)
  })

  it('signal values are written as properties, datetimes as ISO strings', () => {
    const state = emptyState()
    track(tiered, state, T0, 'Project Created')
    const { properties } = evaluateSection(tiered.contact, state, T0)
    expect(properties).toMatchObject({ activated: true, projects: 1, projects_l7d: 1, calls: 0, last_activity: '2026-03-10T12:00:00.000Z' })
    expect(properties).not.toHaveProperty('plan')
  })
})

describe('composite scores', () => {
  const composite = (product: string, fit: string) =>
    model(
      [
        '  - property: product_score',
        '    min: -100',
        '    max: 1000',
        '    rules:',
        `      - { label: Product, per: projects, points: ${product} }`,
        '  - property: fit_score',
        '    min: -100',
        '    rules:',
        `      - { label: Fit, when: activated, points: ${fit} }`,
        '  - property: pql_score',
        '    composite: { product_score: 0.6, fit_score: 0.25 }'
      ].join('\n')
    )

  it('is the sum of weight × score', () => {
    const m = composite('10', '40')
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 5)
    expect(score(m, state, T0)).toBe(40) // 0.6 × 50 + 0.25 × 40
  })

  it('clamps each score to 0..100 before weighting', () => {
    const high = composite('50', '40')
    const state = emptyState()
    track(high, state, T0, 'Project Created', undefined, 5)
    expect(score(high, state, T0, 'product_score')).toBe(250)
    expect(score(high, state, T0)).toBe(70) // 0.6 × 100 + 0.25 × 40

    const negative = composite('10', '-40')
    const other = emptyState()
    track(negative, other, T0, 'Project Created', undefined, 5)
    expect(score(negative, other, T0, 'fit_score')).toBe(-40)
    expect(score(negative, other, T0)).toBe(30) // 0.6 × 50 + 0.25 × 0
  })

  it('rounds the weighted sum half up', () => {
    const m = model(
      '  - property: product_score\n    rules:\n      - { label: Product, per: projects, points: 9 }\n  - property: pql_score\n    composite: { product_score: 0.7 }'
    )
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 5)
    expect(score(m, state, T0)).toBe(32) // 0.7 × 45 = 31.5
  })
})

describe('hand-offs (SPEC §3.5)', () => {
  const SLACK = 'slack: { webhook: "https://hooks.slack.com/services/T/B/X" }'
  const entersHot = model(
    '  - property: pql_score\n    rules:\n      - { label: Busy, per: projects_l7d, points: 10 }\n    tiers: { Cold: 0, Warm: 30, Hot: 60 }',
    `handoff:\n  - on: { enters: Hot }\n    unless: lifecyclestage == "customer"\n    ${SLACK}`
  )

  function handoffs(m: Model, state: SubjectState, now: number, hubspot: Record<string, string | undefined> = {}) {
    return evaluateContact(m, state, now, hubspot).handoffs
  }

  it('enters fires once when the score crosses up into the tier', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 5)
    expect(handoffs(entersHot, state, T0)).toEqual([])
    track(entersHot, state, T0 + HOUR, 'Project Created')
    const fired = handoffs(entersHot, state, T0 + HOUR)
    expect(fired).toHaveLength(1)
    expect(fired[0]).toMatchObject({ on: 'enters Hot', at: T0 + HOUR, score: 60, tier: 'Hot', reasons: 'Busy (+60)' })
    expect(fired[0].handoff.slack?.webhook).toBe('https://hooks.slack.com/services/T/B/X')
  })

  it('enters does not fire again while the score stays in or above the tier', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 6)
    expect(handoffs(entersHot, state, T0)).toHaveLength(1)
    expect(handoffs(entersHot, state, T0 + HOUR)).toEqual([])
    track(entersHot, state, T0 + 2 * HOUR, 'Project Created', undefined, 3)
    expect(handoffs(entersHot, state, T0 + 2 * HOUR)).toEqual([])
  })

  it('enters re-arms after the score falls below the tier and fires on the next crossing', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 6)
    expect(handoffs(entersHot, state, T0)).toHaveLength(1)
    const quiet = T0 + 10 * DAY
    expect(handoffs(entersHot, state, quiet)).toEqual([])
    expect(state.lastScores.pql_score[0]).toBe(0)
    track(entersHot, state, quiet + HOUR, 'Project Created', undefined, 6)
    const again = handoffs(entersHot, state, quiet + HOUR)
    expect(again).toHaveLength(1)
    expect(again[0].at).toBe(quiet + HOUR)
  })

  it('enters fires on a first evaluation that is already in the tier', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 7)
    expect(handoffs(entersHot, state, T0).map((h) => h.on)).toEqual(['enters Hot'])
  })

  it('unless lifecyclestage == "customer" suppresses the hand-off', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 6)
    expect(handoffs(entersHot, state, T0, { lifecyclestage: 'customer' })).toEqual([])
    const other = emptyState()
    track(entersHot, other, T0, 'Project Created', undefined, 6)
    expect(handoffs(entersHot, other, T0, { lifecyclestage: 'opportunity' })).toHaveLength(1)
  })

  it('unless compares strings case-insensitively', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 6)
    expect(handoffs(entersHot, state, T0, { lifecyclestage: 'Customer' })).toEqual([])
  })

  it('enters a named score watches that score', () => {
    const m = model(
      [
        '  - property: pql_score',
        '    rules:',
        '      - { label: Busy, per: projects, points: 10 }',
        '    tiers: { Cold: 0, Hot: 60 }',
        '  - property: fit_score',
        '    rules:',
        '      - { label: Paying, when: plan == "paying", points: 80 }',
        '    tiers: { Poor: 0, Good: 50 }'
      ].join('\n'),
      `handoff:\n  - on: { enters: Good, score: fit_score }\n    ${SLACK}`
    )
    const state = emptyState()
    track(m, state, T0, 'Project Created', undefined, 7)
    expect(handoffs(m, state, T0)).toEqual([])
    identify(m, state, T0 + HOUR, { plan: 'paying' })
    expect(handoffs(m, state, T0 + HOUR).map((h) => [h.on, h.score, h.tier])).toEqual([['enters Good', 80, 'Good']])
  })

  const rises = model(
    '  - property: pql_score\n    rules:\n      - { label: Projects, per: projects, points: 10 }',
    `handoff:\n  - on: { rises_by: 40, within: 24h, score: pql_score }\n    ${SLACK}`
  )

  it('rises_by 40 within 24h fires on a rise of at least 40 within 24h', () => {
    const state = emptyState()
    track(rises, state, T0, 'Project Created')
    expect(handoffs(rises, state, T0)).toEqual([]) // 10
    track(rises, state, T0 + HOUR, 'Project Created', undefined, 3)
    expect(handoffs(rises, state, T0 + HOUR)).toEqual([]) // 40: up 30
    track(rises, state, T0 + 2 * HOUR, 'Project Created')
    const fired = handoffs(rises, state, T0 + 2 * HOUR) // 50: up 40
    expect(fired.map((h) => [h.on, h.score, h.at])).toEqual([['rises_by 40 within 24h', 50, T0 + 2 * HOUR]])
  })

  it('rises_by fires at most once per 24h', () => {
    const state = emptyState()
    track(rises, state, T0, 'Project Created')
    handoffs(rises, state, T0)
    track(rises, state, T0 + HOUR, 'Project Created', undefined, 4)
    expect(handoffs(rises, state, T0 + HOUR)).toHaveLength(1) // 10 → 50
    track(rises, state, T0 + 2 * HOUR, 'Project Created', undefined, 5)
    expect(handoffs(rises, state, T0 + 2 * HOUR)).toEqual([]) // 100, within 24h of the last
    expect(handoffs(rises, state, T0 + 30 * HOUR)).toEqual([]) // steady at 100
    track(rises, state, T0 + 31 * HOUR, 'Project Created', undefined, 5)
    expect(handoffs(rises, state, T0 + 31 * HOUR)).toHaveLength(1) // 100 → 150, 30h after the last
  })

  it('rises_by does not fire for a rise spread over more than 24h', () => {
    const state = emptyState()
    track(rises, state, T0, 'Project Created')
    handoffs(rises, state, T0) // 10
    track(rises, state, T0 + 25 * HOUR, 'Project Created', undefined, 3)
    expect(handoffs(rises, state, T0 + 25 * HOUR)).toEqual([]) // 40: up 30
    track(rises, state, T0 + 50 * HOUR, 'Project Created', undefined, 3)
    expect(handoffs(rises, state, T0 + 50 * HOUR)).toEqual([]) // 70: up 30 on the last 24h
  })

  it('a hand-off that fired is marked in state with its time', () => {
    const state = emptyState()
    track(entersHot, state, T0, 'Project Created', undefined, 6)
    handoffs(entersHot, state, T0)
    expect(Object.values(state.handoffMarks)).toEqual([T0])
  })
})

describe('evaluation without detail', () => {
  const m = model(
    '  - property: pql_score\n    activity: last_activity\n    rules:\n      - { label: Busy, per: projects_l7d, points: 10, cap: 70 }\n      - { label: Started, when: activated, points: 5, once: true }\n    decay: { after: 1d, every: 1d, points: 10 }\n    tiers: { Cold: 0, Hot: 60 }',
    'handoff:\n  - on: { enters: Hot }\n    unless: pql_score < 0\n    slack: { webhook: "https://hooks.slack.com/services/T/B/X" }'
  )

  it('gives the values, states and hand-off intents of a detailed evaluation, without reasons for scores of whole points', () => {
    const lean = emptyState()
    const detailed = emptyState()
    const times = [T0, T0 + HOUR, T0 + 3 * DAY, T0 + 3 * DAY + HOUR]
    for (const [step, at] of times.entries()) {
      for (const state of [lean, detailed]) track(m, state, at, 'Project Created', undefined, step + 3)
      const without = evaluateContact(m, lean, at, {}, false)
      const withDetail = evaluateContact(m, detailed, at, {}, true)
      expect(without.properties).toEqual({})
      expect(without.scores.map(({ value, tier, updatedAt }) => ({ value, tier, updatedAt }))).toEqual(
        withDetail.scores.map(({ value, tier, updatedAt }) => ({ value, tier, updatedAt }))
      )
      // Scored again in full for a hand-off that fires.
      expect(without.scores[0].reasons).toEqual(without.handoffs.length > 0 ? withDetail.scores[0].reasons : [])
      expect(without.handoffs).toEqual(withDetail.handoffs)
      expect({ ...lean, messageIds: '' }).toEqual({ ...detailed, messageIds: '' })
    }
    expect(lean.handoffMarks).not.toEqual({})
  })

  it('keeps the reasons of a score a per rule without a cap could take beyond exact sums', () => {
    const uncapped = model('  - property: pql_score\n    rules:\n      - { label: Busy, per: projects, points: 10 }')
    const state = emptyState()
    track(uncapped, state, T0, 'Project Created', undefined, 2)
    expect(evaluateSection(uncapped.contact, state, T0, false).scores[0].reasons).toEqual([{ label: 'Busy', points: 20 }])
  })
})
