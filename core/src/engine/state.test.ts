import { loadModel } from '../model/load'
import { applyEvents } from './aggregate'
import { attributeToCompanies } from './company'
import { evaluateContact, evaluateSection } from './evaluate'
import { ProductEvent, validateEvent } from './event'
import fc from 'fast-check'
import { fingerprint } from '../hash'
import {
  decodeState,
  emptyState,
  encodeState,
  MAX_MESSAGE_IDS,
  MAX_STATE_CHARS,
  MESSAGE_ID_CHARS,
  messageIdList,
  MessageIds,
  SignalState,
  StateTooLargeError,
  stateProblem,
  SubjectState,
  WireState
} from './state'

const NOW = Date.parse('2026-03-10T12:00:00.000Z')

const model = loadModel(`
version: 1
name: state
signals:
  projects: { count: "Project Created" }
  calls_l7d: { sum: "API Call", of: calls, window: 7d }
  integrations: { distinct: "Integration Connected", of: integration }
  active: { active_days: "*", window: 30d }
  last: { last_seen: "*" }
  plan: { trait: plan }
scores:
  - property: pql_score
    rules:
      - { label: Busy, when: projects >= 2, points: 40, once: true }
      - { per: calls_l7d, points: 1, cap: 20 }
    tiers: { Cold: 0, Warm: 30 }
handoff:
  - on: { enters: Warm }
    slack: { webhook: "https://hooks.slack.com/services/x" }
`)

/** A state with every kind of aggregate, a once-mark, a last score and a hand-off mark. */
function busyState(): SubjectState {
  const state = emptyState()
  const events = [
    { kind: 'track', event: 'Project Created' },
    { kind: 'track', event: 'Project Created' },
    { kind: 'track', event: 'API Call', properties: { calls: 12 } },
    { kind: 'track', event: 'Integration Connected', properties: { integration: 'slack' } },
    { kind: 'identify', traits: { plan: 'paying' } }
  ].map((input, i) =>
    validateEvent({ ...input, messageId: `m-${i}`, timestamp: new Date(NOW - i * 86_400_000).toISOString(), email: 'ada@acme.io' }, NOW)
  )
  applyEvents(model.contact, state, events.map((event) => ({ event, contact: 'ada@acme.io' })), NOW)
  evaluateContact(model, state, NOW)
  return state
}

/** `count` fake message-id hashes, oldest first, packed. */
function messageIds(count: number): string {
  return Array.from({ length: count }, (_, i) => `id${String(i).padStart(6, '0')}`).join('')
}

/** Aggregates of roughly `chars` characters of JSON. */
function aggregates(chars: number): Record<string, SignalState> {
  const signals: Record<string, SignalState> = {}
  let size = 0
  for (let i = 0; size < chars; i++) {
    const hashes = Array.from({ length: 100 }, (_, j) => `h${String(i * 100 + j).padStart(7, '0')}`)
    signals[`signal_${i}`] = { fingerprint: 'abcdefgh', distinct: hashes }
    size += JSON.stringify(hashes).length + 30
  }
  return signals
}

describe('encodeState / decodeState (SPEC §4)', () => {
  it('a state survives an encode/decode round trip', () => {
    const state = busyState()
    expect(Object.keys(state.signals).length).toBeGreaterThan(4)
    expect(Object.keys(state.onceMarks)).toEqual(['pql_score'])
    expect(Object.keys(state.handoffMarks)).toHaveLength(1)
    const decoded = decodeState(encodeState(state))
    expect(decoded.problem).toBeUndefined()
    expect(decoded.state).toEqual(state)
  })

  it('the encoded state is compact JSON', () => {
    const text = encodeState(busyState())
    expect(text).not.toMatch(/\n/)
    expect(JSON.parse(text).v).toBe(2)
  })

  it.each([
    ['empty text', ''],
    ['null', null],
    ['undefined', undefined]
  ])('%s gives an empty state and no problem', (_, text) => {
    expect(decodeState(text)).toEqual({ state: emptyState() })
  })

  it('invalid JSON gives a problem and a fresh state', () => {
    const decoded = decodeState('{"v":1,"s":')
    expect(decoded.state).toEqual(emptyState())
    expect(decoded.problem).toContain('not valid JSON')
  })

  it('another version gives a problem naming the version and a fresh state', () => {
    const text = '{"v":3,"s":{},"o":{},"k":{},"r":{},"h":{},"m":""}'
    const decoded = decodeState(text)
    expect(decoded.state).toEqual(emptyState())
    expect(decoded.problem).toContain('version 3')
  })

  it('a state of the wrong shape gives a problem naming where and a fresh state', () => {
    const decoded = decodeState('{"v":1,"s":{"projects":{"f":"x","n":"three"}},"o":{},"k":{},"r":{},"h":{},"m":[]}')
    expect(decoded.state).toEqual(emptyState())
    expect(decoded.problem).toContain('corrupt at s.projects.n')
  })

  it.each(['null', '42', '"text"', '[]', '{}', '{"v":1}', '{"v":1,"s":[],"o":{},"k":{},"r":{},"h":{},"m":[]}'])(
    'never throws on %s',
    (text) => {
      let decoded: ReturnType<typeof decodeState> | undefined
      expect(() => {
        decoded = decodeState(text)
      }).not.toThrow()
      expect(decoded!.problem).toEqual(expect.any(String))
      expect(decoded!.state).toEqual(emptyState())
    }
  )

  it('the hand-written shape check agrees with the zod schema on valid states and on every kind of damage', () => {
    const latest = fc.tuple(fc.oneof(fc.string(), fc.integer(), fc.boolean()), fc.integer(), fc.string())
    const signal = fc.record(
      {
        f: fc.string(),
        n: fc.integer(),
        d: fc.dictionary(fc.string(), fc.integer()),
        h: fc.array(fc.string()),
        hd: fc.dictionary(fc.string(), fc.integer()),
        a: fc.array(fc.integer()),
        t: fc.integer(),
        l: latest
      },
      { requiredKeys: ['f'] }
    )
    const fields = {
        s: fc.dictionary(fc.string(), signal),
        o: fc.dictionary(fc.string(), fc.dictionary(fc.string(), fc.integer())),
        k: fc.dictionary(fc.string(), fc.tuple(fc.integer(), fc.integer())),
        r: fc.dictionary(fc.string(), fc.array(fc.tuple(fc.integer(), fc.integer()))),
        h: fc.dictionary(fc.string(), fc.integer()),
        c: fc.tuple(fc.string(), fc.integer()),
        u: fc.string(),
        ca: fc.string(),
        n: latest,
        dm: latest
    }
    const requiredKeys = ['v', 's', 'o', 'k', 'r', 'h', 'm'] as const
    const packed = fc.array(fc.string({ minLength: MESSAGE_ID_CHARS, maxLength: MESSAGE_ID_CHARS })).map((ids) => ids.join(''))
    const state = fc.oneof(
      fc.record({ v: fc.constant(2), m: packed, ...fields }, { requiredKeys: [...requiredKeys] }),
      fc.record({ v: fc.constant(1), m: fc.array(fc.string()), ...fields }, { requiredKeys: [...requiredKeys] })
    )
    /** Replaces the value at a random place (chosen by `pick`) with `replacement`. */
    const damage = (value: unknown, pick: number, replacement: unknown): unknown => {
      if (typeof value !== 'object' || value === null) return replacement
      const keys = Object.keys(value)
      if (keys.length === 0 || pick % 5 === 0) return replacement
      const key = keys[pick % keys.length]
      const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as never) : { ...value }
      copy[key] = damage((value as Record<string, unknown>)[key], Math.floor(pick / 7), replacement)
      return copy
    }
    fc.assert(
      fc.property(state, fc.boolean(), fc.nat(), fc.jsonValue(), (valid, damaged, pick, replacement) => {
        const input = JSON.parse(JSON.stringify(damaged ? damage(valid, pick, replacement) : valid))
        expect(stateProblem(input) === undefined).toBe(WireState.safeParse(input).success)
      }),
      // Seeded so CI is deterministic; this seed once found days outside the safe integers.
      { numRuns: 3000, seed: -914903975 }
    )
  })

  it('a fresh state is not shared between decodes', () => {
    const first = decodeState('not json').state
    first.signals.x = { fingerprint: 'x' }
    expect(decodeState('not json').state.signals).toEqual({})
  })
})

describe('state size', () => {
  it('a state that fits is encoded whole', () => {
    const state: SubjectState = { ...emptyState(), signals: aggregates(20_000), messageIds: messageIds(MAX_MESSAGE_IDS) }
    const wire = JSON.parse(encodeState(state))
    expect(wire.m).toEqual(state.messageIds)
    expect(Object.keys(wire.s)).toEqual(Object.keys(state.signals))
    expect(decodeState(encodeState(state)).state).toEqual(state)
  })

  it('a state too large keeps within MAX_STATE_CHARS by dropping the oldest message ids first, never aggregates', () => {
    const ids = messageIds(MAX_MESSAGE_IDS)
    const state: SubjectState = { ...emptyState(), signals: aggregates(MAX_STATE_CHARS - 2_000), messageIds: ids }
    // Whole, the wire text would be the aggregates' text and the ids' text.
    expect(encodeState({ ...state, messageIds: '' }).length + ids.length).toBeGreaterThan(MAX_STATE_CHARS)
    const text = encodeState(state)
    expect(text.length).toBeLessThanOrEqual(MAX_STATE_CHARS)
    const decoded = decodeState(text)
    expect(decoded.problem).toBeUndefined()
    expect(decoded.state.signals).toEqual(state.signals)
    const kept = decoded.state.messageIds
    expect(kept.length).toBeGreaterThan(0)
    expect(kept.length).toBeLessThan(ids.length)
    expect(kept.length % MESSAGE_ID_CHARS).toBe(0)
    expect(kept).toEqual(ids.slice(ids.length - kept.length))
  })

  it('encoding does not change the state it was given', () => {
    const ids = messageIds(MAX_MESSAGE_IDS)
    const state: SubjectState = { ...emptyState(), signals: aggregates(MAX_STATE_CHARS - 2_000), messageIds: ids }
    encodeState(state)
    expect(messageIdList(state.messageIds)).toHaveLength(MAX_MESSAGE_IDS)
  })

  it('a state whose aggregates alone are too large throws StateTooLargeError', () => {
    const state: SubjectState = { ...emptyState(), signals: aggregates(MAX_STATE_CHARS + 1_000), messageIds: messageIds(10) }
    expect(() => encodeState(state)).toThrow(StateTooLargeError)
    try {
      encodeState(state)
    } catch (error) {
      expect((error as StateTooLargeError).size).toBeGreaterThan(MAX_STATE_CHARS)
    }
  })

  it(`keeps the ids of the last ${MAX_MESSAGE_IDS} processed messages`, () => {
    const state = emptyState()
    const events = Array.from({ length: MAX_MESSAGE_IDS + 20 }, (_, i) =>
      validateEvent({ kind: 'track', event: 'Project Created', messageId: `m-${i}`, timestamp: new Date(NOW).toISOString(), email: 'ada@acme.io' }, NOW)
    )
    applyEvents(model.contact, state, events.map((event) => ({ event, contact: 'ada@acme.io' })), NOW)
    expect(messageIdList(state.messageIds)).toHaveLength(MAX_MESSAGE_IDS)
    // The newest ids are remembered: re-sending the last event is a duplicate, the first is not.
    const again = applyEvents(model.contact, state, [{ event: events[events.length - 1], contact: 'ada@acme.io' }], NOW)
    expect(again.duplicates).toBe(1)
    const first = applyEvents(model.contact, state, [{ event: events[0], contact: 'ada@acme.io' }], NOW)
    expect(first.duplicates).toBe(0)
  })

  it('finds duplicates alike in a state kept across calls (a filter of its ids) and in one decoded for each call (a scan)', () => {
    // Re-sends of remembered and of forgotten ids, across the 500-id limit, one event per call.
    const sent = Array.from({ length: MAX_MESSAGE_IDS + 60 }, (_, i) => (i % 7 === 6 ? i - 3 : i % 11 === 10 ? Math.max(0, i - MAX_MESSAGE_IDS - 5) : i))
    const kept = emptyState()
    let stored = encodeState(emptyState())
    for (const i of sent) {
      const event = validateEvent({ kind: 'track', event: 'Project Created', messageId: `m-${i}`, timestamp: new Date(NOW).toISOString(), email: 'ada@acme.io' }, NOW)
      const decoded = decodeState(stored).state
      const inKept = applyEvents(model.contact, kept, [{ event, contact: 'ada@acme.io' }], NOW)
      const inDecoded = applyEvents(model.contact, decoded, [{ event, contact: 'ada@acme.io' }], NOW)
      expect(inKept.duplicates).toBe(inDecoded.duplicates)
      expect(kept.messageIds).toBe(decoded.messageIds)
      stored = encodeState(decoded)
    }
    expect(kept).toEqual(decodeState(stored).state)
    // Ids replaced from outside (as a decode does) are read anew, not from the filter.
    kept.messageIds = ''
    const resent = validateEvent({ kind: 'track', event: 'Project Created', messageId: `m-${sent.length - 1}`, timestamp: new Date(NOW).toISOString(), email: 'ada@acme.io' }, NOW)
    expect(applyEvents(model.contact, kept, [{ event: resent, contact: 'ada@acme.io' }], NOW).duplicates).toBe(0)
  })
})

describe('the message-id filter', () => {
  it('a counter driven to its top stays there: ids counted in it are then looked for in the packed ids, never missed', () => {
    // 300 copies of one id (never written by pqlkit) take its counters to the top.
    const state = { ...emptyState(), messageIds: 'aaaaaaaa'.repeat(300) }
    new MessageIds(state).close()
    const kept = new MessageIds(state)
    expect(kept.has('aaaaaaaa')).toBe(true)
    for (let i = 0; i < MAX_MESSAGE_IDS; i++) kept.add(fingerprint(`new-${i}`))
    kept.close()
    const later = new MessageIds(state)
    expect(later.has('aaaaaaaa')).toBe(false)
    expect(later.has(fingerprint(`new-${MAX_MESSAGE_IDS - 1}`))).toBe(true)
    expect(later.has(fingerprint('never sent'))).toBe(false)
  })

  it('a state decoded for a batch of many events is looked up through counters made for that batch: every held id found, the dropped ones not, and the next state unaffected', () => {
    const held = Array.from({ length: MAX_MESSAGE_IDS }, (_, i) => fingerprint(`held-${i}`))
    const state = { ...emptyState(), messageIds: held.join('') }
    const batch = new MessageIds(state, 20)
    const fresh = Array.from({ length: 20 }, (_, i) => fingerprint(`fresh-${i}`))
    for (const id of fresh) {
      expect(batch.has(id)).toBe(false)
      batch.add(id)
      expect(batch.has(id)).toBe(true)
    }
    for (const id of held) expect(batch.has(id)).toBe(true)
    batch.close()
    const after = new MessageIds(state, 20)
    for (const id of held.slice(0, 20)) expect(after.has(id)).toBe(false)
    for (const id of [...held.slice(20), ...fresh]) expect(after.has(id)).toBe(true)
    after.close()
    const other = { ...emptyState(), messageIds: fresh.join('').repeat(4) }
    const next = new MessageIds(other, 20)
    for (const id of held) expect(next.has(id)).toBe(false)
    expect(next.has(fresh[3])).toBe(true)
  })
})

/** Every field of the wire format in use: all kinds of signal, a company, hand-offs of both kinds. */
const wireModel = loadModel(`
version: 1
name: wire
signals:
  activated: { flag: "Project Created" }
  first_project: { first_seen: "Project Created" }
  projects: { count: "Project Created" }
  calls_l7d: { sum: "API Call", of: calls, window: 7d }
  integrations: { distinct: "Integration Connected", of: integration }
  integrations_l14d: { distinct: "Integration Connected", of: integration, window: 14d }
  active: { active_days: "*", window: 30d }
  last: { last_seen: "*" }
  plan: { trait: plan }
scores:
  - property: pql_score
    rules:
      - { label: Busy, when: projects >= 2, points: 40, once: true }
      - { per: calls_l7d, points: 1, cap: 20 }
    tiers: { Cold: 0, Warm: 30 }
handoff:
  - on: { enters: Warm }
    slack: { webhook: "https://hooks.slack.com/services/x" }
  - on: { rises_by: 20, within: 24h, score: pql_score }
    slack: { webhook: "https://hooks.slack.com/services/x" }
company:
  signals:
    users: { distinct_users: "*" }
    company_plan: { trait: plan }
`)

const DAY = 86_400_000
const HOUR = 3_600_000
const ADA = { email: 'ada@acme.io', userId: 'u1', company: { groupId: 'acme', domain: 'https://www.acme.io/' } }

/**
 * A contact and its company after `inputs` (ages before NOW), in one batch as the sync runs it,
 * the contact marked associated with the company as the sync does.
 */
function wireStates(inputs: [ageMs: number, event: Partial<ProductEvent>][]): { contact: SubjectState; company: SubjectState } {
  const events = inputs.map(([age, input], i) =>
    validateEvent({ ...ADA, ...input, messageId: `m-${i}`, timestamp: new Date(NOW - age).toISOString() } as ProductEvent, NOW)
  )
  const contact = emptyState()
  const company = emptyState()
  const { accepted } = applyEvents(wireModel.contact, contact, events.map((event) => ({ event, contact: ADA.email })), NOW)
  for (const [, attributed] of attributeToCompanies(wireModel, contact, ADA.email, ADA.email, accepted)) {
    applyEvents(wireModel.company!, company, attributed, NOW)
  }
  evaluateContact(wireModel, contact, NOW)
  evaluateSection(wireModel.company!, company, NOW)
  if (contact.lastCompany) contact.associatedCompany = contact.lastCompany[0]
  return { contact, company }
}

describe('the wire format of pqlkit_state (SPEC §4)', () => {
  const story: [number, Partial<ProductEvent>][] = [
    [3 * DAY, { kind: 'track', event: 'Project Created' }],
    [2 * DAY, { kind: 'track', event: 'Project Created' }],
    [DAY, { kind: 'track', event: 'API Call', properties: { calls: 12 } }],
    [DAY, { kind: 'track', event: 'Integration Connected', properties: { integration: 'slack' } }],
    [HOUR, { kind: 'identify', traits: { plan: 'paying' } }],
    [HOUR, { kind: 'group', traits: { name: 'Acme', plan: 'paying' } }]
  ]

  // Pinned: states already stored in HubSpot must stay readable (version 1, written before
  // the message ids were packed, still decodes), and a state encoded now must be what this
  // version wrote (an unchanged state is not rewritten). Changing the version 2 strings is
  // changing the format: that takes a new `v`.
  const CONTACT_WIRE_V1 =
    '{"v":1,"s":{"activated":{"f":"k08cx83i","n":1},"first_project":{"f":"kvzzayw3","t":1772884800000},"projects":{"f":"x560xwjl","n":2},"active":{"f":"1y33gjb1","a":[20519,20520,20521]},"last":{"f":"x5p2fub9","t":1773057600000},"calls_l7d":{"f":"pu4ryv6h","d":{"20521":12}},"integrations":{"f":"29wf16dw","h":["84qy54y9"]},"integrations_l14d":{"f":"6nye3l4g","hd":{"84qy54y9":20521}},"plan":{"f":"04d84dxc","l":["paying",1773140400000,"m-4"]}},"o":{"pql_score":{"l1o5s6sh":1773144000000}},"k":{"pql_score":[52,1773144000000]},"r":{"pql_score":[[1773144000000,52]]},"h":{"6fh52das":1773144000000,"s3cqa5uk":1773144000000},"m":["9wq1cguc","11itr5ab","t40xltf5","fqco51le","9ozk7inj","l1mvqvqi"],"c":["acme",1773140400000],"u":"ada@acme.io","ca":"acme"}'
  const COMPANY_WIRE_V1 =
    '{"v":1,"s":{"users":{"f":"zc2bwtqu","h":["ptv3t3jy"]},"company_plan":{"f":"04d84dxc","l":["paying",1773140400000,"m-5"]}},"o":{},"k":{},"r":{},"h":{},"m":["9wq1cguc","11itr5ab","t40xltf5","fqco51le","9ozk7inj","l1mvqvqi"],"n":["Acme",1773140400000,"m-5"],"dm":["acme.io",1773140400000,"m-5"]}'

  const CONTACT_WIRE =
    '{"v":2,"s":{"activated":{"f":"k08cx83i","n":1},"first_project":{"f":"kvzzayw3","t":1772884800000},"projects":{"f":"x560xwjl","n":2},"active":{"f":"1y33gjb1","a":[20519,20520,20521]},"last":{"f":"x5p2fub9","t":1773057600000},"calls_l7d":{"f":"pu4ryv6h","d":{"20521":12}},"integrations":{"f":"29wf16dw","h":["84qy54y9"]},"integrations_l14d":{"f":"6nye3l4g","hd":{"84qy54y9":20521}},"plan":{"f":"04d84dxc","l":["paying",1773140400000,"m-4"]}},"o":{"pql_score":{"l1o5s6sh":1773144000000}},"k":{"pql_score":[52,1773144000000]},"r":{"pql_score":[[1773144000000,52]]},"h":{"6fh52das":1773144000000,"s3cqa5uk":1773144000000},"m":"9wq1cguc11itr5abt40xltf5fqco51le9ozk7injl1mvqvqi","c":["acme",1773140400000],"u":"ada@acme.io","ca":"acme"}'
  const COMPANY_WIRE =
    '{"v":2,"s":{"users":{"f":"zc2bwtqu","h":["ptv3t3jy"]},"company_plan":{"f":"04d84dxc","l":["paying",1773140400000,"m-5"]}},"o":{},"k":{},"r":{},"h":{},"m":"9wq1cguc11itr5abt40xltf5fqco51le9ozk7injl1mvqvqi","n":["Acme",1773140400000,"m-5"],"dm":["acme.io",1773140400000,"m-5"]}'

  it('encodes a contact and a company as the pinned text, every wire key in its place', () => {
    const { contact, company } = wireStates(story)
    expect(encodeState(contact)).toBe(CONTACT_WIRE)
    expect(encodeState(company)).toBe(COMPANY_WIRE)
  })

  it('decodes the pinned text of either version to the readable state', () => {
    const { contact, company } = wireStates(story)
    expect(decodeState(CONTACT_WIRE)).toEqual({ state: contact })
    expect(decodeState(COMPANY_WIRE)).toEqual({ state: company })
    expect(decodeState(CONTACT_WIRE_V1)).toEqual({ state: contact })
    expect(decodeState(COMPANY_WIRE_V1)).toEqual({ state: company })
    const { state } = decodeState(CONTACT_WIRE)
    expect(state.signals.projects).toEqual({ fingerprint: expect.any(String), total: 2 })
    expect(state.signals.plan.latest).toEqual(['paying', NOW - HOUR, 'm-4'])
    expect(state.lastScores.pql_score).toEqual([52, NOW])
    expect(state.scoreChanges.pql_score).toEqual([[NOW, 52]])
    expect(Object.keys(state.handoffMarks)).toHaveLength(2)
    expect(messageIdList(state.messageIds)).toHaveLength(6)
    expect(state.lastCompany).toEqual(['acme', NOW - HOUR])
    expect(state.countedAs).toBe('ada@acme.io')
    expect(state.associatedCompany).toBe('acme')
    expect(decodeState(COMPANY_WIRE).state.name).toEqual(['Acme', NOW - HOUR, 'm-5'])
    expect(decodeState(COMPANY_WIRE).state.domain).toEqual(['acme.io', NOW - HOUR, 'm-5'])
  })

  it('re-encoding a decoded state gives back the same text, for states produced by applying events', () => {
    const input = fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 40 * DAY }), fc.constantFrom(0, DAY, 7 * DAY, 7 * DAY + 1)),
      fc.oneof(
        fc.record({ kind: fc.constant('track'), event: fc.constantFrom('Project Created', 'Page Viewed') }),
        fc.record({ kind: fc.constant('track'), event: fc.constant('API Call'), properties: fc.record({ calls: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant('lots')) }) }),
        fc.record({ kind: fc.constant('track'), event: fc.constant('Integration Connected'), properties: fc.record({ integration: fc.constantFrom('slack', 'github', 'jira') }) }),
        fc.record({ kind: fc.constant('identify'), traits: fc.record({ plan: fc.constantFrom('free', 'paying', 3, true) }) }),
        fc.record({ kind: fc.constant('group'), traits: fc.record({ name: fc.constantFrom('Acme', 'Acme Inc'), plan: fc.constantFrom('free', 'paying') }) })
      )
    ) as fc.Arbitrary<[number, Partial<ProductEvent>]>
    fc.assert(
      fc.property(fc.array(input, { maxLength: 30 }), (inputs) => {
        for (const state of Object.values(wireStates(inputs))) {
          const text = encodeState(state)
          const decoded = decodeState(text)
          expect(decoded.problem).toBeUndefined()
          expect(decoded.state).toEqual(state)
          expect(encodeState(decoded.state)).toBe(text)
        }
      }),
      { numRuns: 300, seed: 20260310 }
    )
  })

  it('re-encoding gives back the same text for a state that had to drop message ids', () => {
    const ids = messageIds(MAX_MESSAGE_IDS)
    const text = encodeState({ ...emptyState(), signals: aggregates(MAX_STATE_CHARS - 2_000), messageIds: ids })
    expect(encodeState(decodeState(text).state)).toBe(text)
  })
})
