import { loadModel } from '../model/load'
import { attributeToCompanies } from './company'
import { ProductEvent, validateEvent, ValidEvent } from './event'
import { emptyState } from './state'

const T0 = Date.parse('2026-03-10T09:00:00.000Z')
const HOUR = 3_600_000
const NOW = T0 + 24 * HOUR

const model = loadModel(`
version: 1
name: attribution
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, points: 10 }]
company:
  company_from_email: true
  signals:
    company_projects: { count: "Project Created" }
`)

let sequence = 0
function event(at: number, extra: Partial<ProductEvent> = {}): ValidEvent {
  const input: ProductEvent = {
    kind: 'track',
    messageId: `m-${++sequence}`,
    timestamp: new Date(at).toISOString(),
    email: 'ada@gmail.com',
    event: 'Project Created',
    ...extra
  }
  return validateEvent(input, NOW)
}

const attributed = (map: Map<string, { event: ValidEvent }[]>) =>
  Object.fromEntries([...map].map(([key, list]) => [key, list.map(({ event }) => event.messageId)]))

describe('company attribution (SPEC §3.4)', () => {
  it('an event without a company of its own goes to the company the contact was last seen with at its time', () => {
    const state = emptyState()
    const early = event(T0 - HOUR)
    const joined = event(T0, { company: { groupId: 'acme' } })
    const later = event(T0 + HOUR)
    const moved = event(T0 + 2 * HOUR, { company: { groupId: 'globex' } })
    const last = event(T0 + 3 * HOUR)
    const result = attributeToCompanies(model, state, 'ada@gmail.com', 'ada@gmail.com', [last, moved, later, joined, early])
    expect(attributed(result)).toEqual({
      acme: [joined.messageId, later.messageId],
      globex: [moved.messageId, last.messageId]
    })
    expect(state.lastCompany).toEqual(['globex', T0 + 2 * HOUR])
  })

  it('a retried or late event is attributed as in time order, never to a company learned after it', () => {
    const state = emptyState()
    const early = event(T0 - HOUR)
    const joined = event(T0, { company: { groupId: 'acme' } })
    attributeToCompanies(model, state, 'ada@gmail.com', 'ada@gmail.com', [joined])
    expect(attributed(attributeToCompanies(model, state, 'ada@gmail.com', 'ada@gmail.com', [early]))).toEqual({})
    const after = event(T0 + HOUR)
    expect(attributed(attributeToCompanies(model, state, 'ada@gmail.com', 'ada@gmail.com', [after]))).toEqual({ acme: [after.messageId] })
  })

  it('company_from_email never makes a company of a free-mail domain, and uses a work domain', () => {
    const state = emptyState()
    const free = event(T0)
    const work = event(T0 + HOUR, { email: 'ada@acme.io' })
    const result = attributeToCompanies(model, state, 'ada@acme.io', undefined, [free, work])
    expect(attributed(result)).toEqual({ 'acme.io': [work.messageId] })
  })
})
