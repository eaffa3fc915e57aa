import { applyEvents, signalValue } from '../engine/aggregate'
import { validateEvent } from '../engine/event'
import { simulate } from '../engine/simulate'
import { emptyState } from '../engine/state'
import { ModelError } from './compile'
import { loadMappings, loadModel } from './load'
import { Mapping, parseMappings, withMappings } from './mappings'

const SCORES_ONLY = `version: 1
name: Scores only
scores:
  - property: pql_score
    rules:
      - { label: Reporter, when: reports_created >= 2, points: 30 }
      - { label: Revenue, per: revenue_total, every: 100, points: 5, cap: 20 }
      - { label: Paying, when: plan == "paying", points: 20 }
    tiers: { Cold: 0, Hot: 50 }
`

const MAPPINGS: Mapping[] = parseMappings([
  { property: 'reports_created', aggregation: 'count', event: 'Report Created', window: '30d' },
  { property: 'revenue_total', aggregation: 'sum', event: 'Order Completed', value: 'amount' },
  { property: 'plan', aggregation: 'latest', event: 'Plan Changed', value: { '@path': '$.properties.plan' } }
])

function problems(run: () => unknown): string[] {
  try {
    run()
  } catch (error) {
    if (error instanceof ModelError) return error.message.split('\n').slice(1).map((line) => line.trim())
    throw error
  }
  return []
}

describe('mappings', () => {
  it('become the model signals of their aggregation, so a model may hold only scores', () => {
    expect(withMappings({ version: 1, name: 'x' }, MAPPINGS)).toEqual({
      version: 1,
      name: 'x',
      signals: {
        reports_created: { count: 'Report Created', window: '30d' },
        revenue_total: { sum: 'Order Completed', of: 'amount' },
        plan: { latest: 'Plan Changed', of: 'plan' }
      }
    })
    const model = loadModel(SCORES_ONLY, 'model.yaml', MAPPINGS)
    expect(model.contact.signals.map((signal) => signal.name)).toEqual(['reports_created', 'revenue_total', 'plan'])
  })

  it('put a company mapping in the company section, beside the model company signals', () => {
    const merged = withMappings({ version: 1, name: 'x', company: { signals: { seats: { trait: 'seats' } } } }, [
      ...parseMappings([{ property: 'company_reports', object: 'company', aggregation: 'count', event: 'Report Created' }])
    ])
    expect(merged).toMatchObject({ company: { signals: { seats: { trait: 'seats' }, company_reports: { count: 'Report Created' } } } })
  })

  it('are scored like the model signals they stand for: a windowed count, a sum and a latest value', () => {
    const model = loadModel(SCORES_ONLY, 'model.yaml', MAPPINGS)
    const at = (day: number) => new Date(Date.UTC(2026, 0, day)).toISOString()
    const track = (id: string, day: number, event: string, properties: Record<string, unknown>) => ({
      kind: 'track' as const,
      messageId: id,
      timestamp: at(day),
      email: 'ada@example.com',
      event,
      properties
    })
    const result = simulate(
      model,
      [
        track('1', 1, 'Report Created', {}),
        track('2', 20, 'Report Created', {}),
        track('3', 21, 'Report Created', {}),
        track('4', 21, 'Order Completed', { amount: 250 }),
        track('5', 22, 'Order Completed', { amount: '70' }),
        track('6', 22, 'Plan Changed', { plan: 'trial' }),
        track('7', 23, 'Plan Changed', { plan: 'paying' })
      ],
      Date.parse(at(35))
    )
    expect(result.subjects[0].properties).toMatchObject({ reports_created: 2, revenue_total: 320, plan: 'paying', pql_score: 65, pql_score_tier: 'Hot' })
  })

  it('may not take a name the model already uses: a located error at the mapping', () => {
    const model = { version: 1, name: 'x', signals: { plan: { trait: 'plan' } }, scores: [{ property: 'pql_score', rules: [{ when: 'plan', points: 1 }] }] }
    expect(problems(() => withMappings(model, MAPPINGS, 'mappings.json'))).toEqual([
      'mappings.json: [2].property: "plan" is already defined by the model\'s signal plan'
    ])
    expect(problems(() => withMappings(model, parseMappings([{ property: 'pql_score', aggregation: 'flag', event: 'X' }]), 'm'))).toEqual([
      'm: [0].property: "pql_score" is already defined by the model\'s score pql_score'
    ])
  })

  it('report a rule naming a signal neither the model nor a mapping defines, at the rule', () => {
    expect(problems(() => loadModel(SCORES_ONLY, 'model.yaml', MAPPINGS.slice(0, 2)))).toEqual([
      expect.stringMatching(/^model\.yaml:8:\d+: scores\[0\]\.rules\[2\]\.when: rule "Paying": unknown name "plan"/)
    ])
  })

  it('are checked field by field, each problem with its line, column and path', () => {
    expect(
      problems(() =>
        loadMappings(
          `[
  { "property": "Reports", "aggregation": "count", "event": "Report Created" },
  { "property": "days", "aggregation": "active_days", "event": "*" },
  { "property": "total", "aggregation": "sum", "event": "Order Completed", "window": "30d" },
  { "property": "seen", "aggregation": "flag", "event": "Login", "value": "x", "window": "7d" },
  { "property": "avg", "aggregation": "average", "event": "Login" }
]`,
          'mappings.json'
        )
      )
    ).toEqual([
      expect.stringMatching(/^mappings\.json:2:\d+: \[0\]\.property: expected a HubSpot internal name/),
      'mappings.json:3:3: [1].window: active_days needs a window, such as 30d',
      'mappings.json:4:3: [2].value: sum needs the value to read, such as amount',
      expect.stringMatching(/^mappings\.json:5:\d+: \[3\]\.window: flag takes no window$/),
      expect.stringMatching(/^mappings\.json:5:\d+: \[3\]\.value: flag reads no value$/),
      expect.stringMatching(/^mappings\.json:6:\d+: \[4\]\.aggregation: expected one of flag, count, sum, distinct, active_days, first_seen, last_seen, latest$/)
    ])
  })
})

describe('a host that delivers each event once per mapping (one subscription per mapping)', () => {
  const NOW = Date.parse('2026-01-10T00:00:00.000Z')
  const mappings = parseMappings([
    { property: 'reports_created', aggregation: 'count', event: '*' },
    { property: 'revenue_total', aggregation: 'sum', event: '*', value: 'value' }
  ])
  const model = loadModel('version: 1\nname: x\nsignals:\n  events_total: { count: "*" }\n', 'model', mappings, { deliveredPerMapping: true })
  const event = (messageId: string, mapping?: string, value?: unknown) =>
    validateEvent(
      { kind: 'track', messageId, timestamp: '2026-01-09T10:00:00.000Z', email: 'ada@example.com', event: 'Report Created', properties: { value }, mapping },
      NOW
    )
  const values = (state = emptyState()) => Object.fromEntries(model.contact.signals.map((signal) => [signal.name, signalValue(signal, state, NOW)]))

  it('counts a delivery for a mapping toward that signal only, and the plain delivery toward the model signals only', () => {
    const state = emptyState()
    const events = [event('m1'), event('m1', 'reports_created'), event('m1', 'revenue_total', '250')]
    const result = applyEvents(model.contact, state, events.map((e) => ({ event: e, contact: 'ada@example.com' })), NOW)
    expect(result.duplicates).toBe(0)
    expect(values(state)).toEqual({ events_total: 1, reports_created: 1, revenue_total: 250 })
  })

  it('deduplicates per mapping: a re-delivered subscription batch never double-counts', () => {
    const state = emptyState()
    const once = [event('m1', 'reports_created'), event('m1', 'revenue_total', 5)]
    for (let round = 0; round < 2; round++) applyEvents(model.contact, state, once.map((e) => ({ event: e, contact: 'ada@example.com' })), NOW)
    expect(values(state)).toEqual({ events_total: 0, reports_created: 1, revenue_total: 5 })
  })
})

describe('a mapped signal’s state across hosts', () => {
  it('is kept under the same fingerprint whether the host knows the event and value path or not', () => {
    const known = loadModel(SCORES_ONLY, 'model', MAPPINGS)
    const delivered = loadModel(
      SCORES_ONLY,
      'model',
      parseMappings(MAPPINGS.map(({ event: _, value, ...rest }) => ({ ...rest, event: '*', ...(value ? { value: 'value' } : {}) }))),
      { deliveredPerMapping: true }
    )
    expect(delivered.contact.signals.map((signal) => signal.fingerprint)).toEqual(known.contact.signals.map((signal) => signal.fingerprint))
    const windowChanged = loadModel(SCORES_ONLY, 'model', [{ ...MAPPINGS[0], window: '7d' }, ...MAPPINGS.slice(1)])
    expect(windowChanged.contact.signals[0].fingerprint).not.toBe(known.contact.signals[0].fingerprint)
  })
})
