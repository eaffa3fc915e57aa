import { DEFAULT_FAVOURED, generateEvents, generateOutcomes, GeneratorOptions, PROFILES, SegmentMessage } from './generate-events'
import { Random, hashSeed, mulberry32, uuidFrom } from './random'

const DAY_MS = 86_400_000
const FREE_MAIL = new Set(['gmail.com', 'outlook.com', 'yahoo.com', 'hotmail.com', 'icloud.com', 'proton.me'])

const base: GeneratorOptions = { profile: 'project-management', users: 120, days: 30, end: '2026-11-01T00:00:00.000Z', seed: 7 }

const cache = new Map<string, SegmentMessage[]>()
function generate(options: GeneratorOptions): SegmentMessage[] {
  const key = JSON.stringify(options)
  let messages = cache.get(key)
  if (!messages) {
    messages = generateEvents(options)
    cache.set(key, messages)
  }
  return messages
}

function byUser(messages: SegmentMessage[]): Map<string, SegmentMessage[]> {
  const users = new Map<string, SegmentMessage[]>()
  for (const message of messages) {
    const list = users.get(message.userId) ?? []
    list.push(message)
    users.set(message.userId, list)
  }
  return users
}

function emailOf(messages: SegmentMessage[]): string | undefined {
  const identify = messages.find((message) => message.type === 'identify' && typeof message.traits?.email === 'string')
  return identify?.traits?.email as string | undefined
}

describe('random', () => {
  it('repeats the same sequence for the same seed', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    for (let i = 0; i < 100; i++) expect(a()).toBe(b())
  })

  it('stays in [0, 1) and spreads over the range', () => {
    const random = new Random(1)
    const buckets = new Array(10).fill(0)
    let min = 1
    let max = 0
    for (let i = 0; i < 10_000; i++) {
      const value = random.next()
      min = Math.min(min, value)
      max = Math.max(max, value)
      buckets[Math.floor(value * 10)]++
    }
    expect(min).toBeGreaterThanOrEqual(0)
    expect(max).toBeLessThan(1)
    for (const bucket of buckets) expect(bucket).toBeGreaterThan(800)
  })

  it('derives different seeds from different parts', () => {
    expect(hashSeed(1, 2)).not.toBe(hashSeed(2, 1))
    expect(hashSeed(2 ** 40)).not.toBe(hashSeed(0))
    expect(hashSeed(5)).toBe(hashSeed(5))
  })

  it('makes UUID-shaped ids that differ by counter', () => {
    const random = new Random(3)
    const ids = [uuidFrom(random, 1), uuidFrom(random, 2)]
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(ids[0]).not.toBe(ids[1])
  })
})

describe('generateEvents', () => {
  it('gives byte-identical output for the same options', () => {
    const first = JSON.stringify(generateEvents(base))
    const second = JSON.stringify(generateEvents({ ...base }))
    expect(second).toBe(first)
  })

  it('gives different output for a different seed', () => {
    expect(JSON.stringify(generate({ ...base, seed: 8 }))).not.toBe(JSON.stringify(generate(base)))
  })

  it('rejects options it cannot honour', () => {
    expect(() => generateEvents({ ...base, users: -1 })).toThrow(/users/)
    expect(() => generateEvents({ ...base, days: 0 })).toThrow(/days/)
    expect(() => generateEvents({ ...base, end: 'yesterday' })).toThrow(/end/)
    expect(() => generateEvents({ ...base, profile: 'crm' as never })).toThrow(/profile/)
  })

  it('returns nothing for no users', () => {
    expect(generateEvents({ ...base, users: 0 })).toEqual([])
  })

  describe.each(PROFILES)('for the %s profile', (profile) => {
    const options = { ...base, profile }
    const messages = () => generate(options)

    it('keeps every timestamp inside [end − days, end), as ISO 8601 UTC with milliseconds', () => {
      const end = Date.parse(options.end)
      const start = end - options.days * DAY_MS
      for (const message of messages()) {
        expect(message.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        const at = Date.parse(message.timestamp)
        expect(at).toBeGreaterThanOrEqual(start)
        expect(at).toBeLessThan(end)
      }
    })

    it('sorts messages by timestamp, then messageId', () => {
      const list = messages()
      for (let i = 1; i < list.length; i++) {
        const [a, b] = [list[i - 1], list[i]]
        expect(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.messageId < b.messageId)).toBe(true)
      }
    })

    it('gives every message a unique UUID-shaped messageId', () => {
      const ids = messages().map((message) => message.messageId)
      expect(new Set(ids).size).toBe(ids.length)
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    })

    it('creates exactly the requested number of users, each identified with an email before their first track', () => {
      const users = byUser(messages())
      expect(users.size).toBe(options.users)
      for (const [, list] of users) {
        const firstIdentify = list.findIndex((message) => message.type === 'identify')
        const firstTrack = list.findIndex((message) => message.type === 'track')
        expect(firstIdentify).toBe(0)
        expect(list[firstIdentify].traits?.email).toMatch(/^[^@\s]+@[a-z0-9.-]+\.[a-z]+$/i)
        expect(list[firstIdentify].traits).toEqual(expect.objectContaining({ firstname: expect.any(String), lastname: expect.any(String), plan: expect.any(String) }))
        if (firstTrack >= 0) expect(firstTrack).toBeGreaterThan(firstIdentify)
      }
    })

    it('sends a group call for company users, and carries their groupId on their other calls', () => {
      const users = byUser(messages())
      let companyUsers = 0
      for (const [, list] of users) {
        const email = emailOf(list) as string
        const domain = email.split('@')[1].toLowerCase()
        const group = list.find((message) => message.type === 'group')
        if (FREE_MAIL.has(domain)) {
          expect(group).toBeUndefined()
          for (const message of list) expect(message.context?.groupId).toBeUndefined()
          continue
        }
        companyUsers++
        expect(group).toBeDefined()
        expect(group?.groupId).toMatch(/^co_\d{4}$/)
        expect(group?.traits).toEqual(expect.objectContaining({ name: expect.any(String), plan: expect.any(String), employees: expect.any(Number) }))
        const site = String(group?.traits?.domain ?? group?.traits?.website)
        expect(site).toContain(domain)
        expect(list.indexOf(group as SegmentMessage)).toBeLessThan(Math.max(1, list.findIndex((message) => message.type === 'track')))
        for (const message of list.filter((m) => m.type !== 'group')) expect(message.context?.groupId).toBe(group?.groupId)
      }
      // About 80% of users belong to a company.
      expect(companyUsers / users.size).toBeGreaterThan(0.65)
      expect(companyUsers / users.size).toBeLessThan(0.92)
    })

    it('puts 2 to 8 users in a company', () => {
      const members = new Map<string, Set<string>>()
      for (const message of messages()) {
        if (message.type !== 'group' || !message.groupId) continue
        const set = members.get(message.groupId) ?? new Set()
        set.add(message.userId)
        members.set(message.groupId, set)
      }
      expect(members.size).toBeGreaterThan(5)
      for (const [, set] of members) {
        expect(set.size).toBeGreaterThanOrEqual(2)
        expect(set.size).toBeLessThanOrEqual(8)
      }
    })

    it('carries the email on about 70% of track events and only the userId on the rest', () => {
      const tracks = messages().filter((message) => message.type === 'track')
      const withEmail = tracks.filter((message) => message.context?.traits?.email).length
      expect(withEmail / tracks.length).toBeGreaterThan(0.6)
      expect(withEmail / tracks.length).toBeLessThan(0.8)
      for (const message of tracks) expect(message.userId).toMatch(/^usr_\d{5}$/)
    })

    it('has users who went quiet for the last 7+ days, and users still active in the last days', () => {
      const end = Date.parse(options.end)
      let quiet = 0
      let recent = 0
      for (const [, list] of byUser(messages())) {
        const tracks = list.filter((message) => message.type === 'track')
        if (tracks.length === 0) continue
        const last = Date.parse(tracks[tracks.length - 1].timestamp)
        if (last < end - 7 * DAY_MS) quiet++
        if (last >= end - 2 * DAY_MS) recent++
      }
      expect(quiet).toBeGreaterThan(5)
      expect(recent).toBeGreaterThan(5)
    })

    it('has some users who go deep and many who do not', () => {
      const counts = [...byUser(messages()).values()].map((list) => list.filter((message) => message.type === 'track').length).sort((a, b) => a - b)
      const median = counts[Math.floor(counts.length / 2)]
      const top = counts[counts.length - 1]
      expect(top).toBeGreaterThan(median * 4)
      expect(counts[0]).toBeLessThan(10)
    })

    it('has engaged users inviting teammates, and invited colleagues signing up', () => {
      const list = messages()
      const invitedEmails = new Set(
        list.filter((message) => message.event === 'Teammate Invited').map((message) => String(message.properties?.invitee_email))
      )
      expect(invitedEmails.size).toBeGreaterThan(5)
      const signedUp = [...byUser(list).values()].filter((userMessages) => invitedEmails.has(String(emailOf(userMessages)).toLowerCase()))
      expect(signedUp.length).toBeGreaterThan(3)
    })
  })

  it('emits the project-management events the example model scores, with plausible properties', () => {
    const tracks = generate(base).filter((message) => message.type === 'track')
    const events = new Set(tracks.map((message) => message.event))
    for (const name of ['Project Created', 'Task Created', 'Teammate Invited', 'Integration Connected', 'API Call', 'Automation Created', 'Advanced Filter Used', 'Page Viewed']) {
      expect(events).toContain(name)
    }
    for (const message of tracks) {
      if (message.event === 'Integration Connected') expect(['Slack', 'Google Drive', 'GitHub', 'Jira']).toContain(message.properties?.integration)
      if (message.event === 'API Call') {
        expect(message.properties?.calls).toBeGreaterThanOrEqual(1)
        expect(message.properties?.calls).toBeLessThanOrEqual(50)
      }
    }
  })

  it('emits the analytics events the example model scores', () => {
    const tracks = generate({ ...base, profile: 'analytics' }).filter((message) => message.type === 'track')
    const events = new Set(tracks.map((message) => message.event))
    for (const name of ['Data Source Connected', 'Dashboard Created', 'Dashboard Shared', 'Report Scheduled', 'API Key Created', 'API Call', 'Data Exported', 'SQL Query Run']) {
      expect(events).toContain(name)
    }
    for (const message of tracks.filter((m) => m.event === 'Data Source Connected')) expect(typeof message.properties?.source).toBe('string')
  })

  it('emits the async-video events the example model scores, and reports avg_view_rate as a trait', () => {
    const list = generate({ ...base, profile: 'async-video' })
    const events = new Set(list.filter((message) => message.type === 'track').map((message) => message.event))
    for (const name of ['Video Recorded', 'Video Shared', 'Workspace Created', 'Teammate Invited', 'Landing Page Branded']) {
      expect(events).toContain(name)
    }
    for (const message of list.filter((m) => m.event === 'Video Shared')) expect(message.properties?.recipients).toBeGreaterThanOrEqual(1)
    const rates = list.filter((m) => m.type === 'identify' && m.traits?.avg_view_rate !== undefined).map((m) => m.traits?.avg_view_rate as number)
    expect(rates.length).toBeGreaterThan(10)
    for (const rate of rates) {
      expect(rate).toBeGreaterThanOrEqual(0)
      expect(rate).toBeLessThanOrEqual(1)
    }
    expect(rates.some((rate) => rate > 0.6)).toBe(true)
    expect(rates.some((rate) => rate <= 0.6)).toBe(true)
  })
})

describe('generateOutcomes', () => {
  it.each(PROFILES)('leaves the %s messages exactly as generateEvents makes them, and gives every user one outcome', (profile) => {
    const options = { ...base, profile }
    const { messages, outcomes } = generateOutcomes(options)
    expect(JSON.stringify(messages)).toBe(JSON.stringify(generate(options)))
    const emails = [...byUser(messages).values()].map(emailOf)
    expect(outcomes.map((outcome) => outcome.email).sort()).toEqual(emails.sort())
    expect(JSON.stringify(generateOutcomes(options).outcomes)).toBe(JSON.stringify(outcomes))
  })

  it('converts by the ground truth: 1 to 7 days after the last favoured event first done, inside the period', () => {
    const options = { ...base, users: 1000, seed: 11 }
    const { messages, outcomes } = generateOutcomes(options)
    const favoured = DEFAULT_FAVOURED['project-management']
    const byEmail = new Map([...byUser(messages).values()].map((list): [string, SegmentMessage[]] => [emailOf(list)!, list]))
    const converted: number[] = [0, 0, 0]
    const users: number[] = [0, 0, 0]
    for (const outcome of outcomes) {
      const list = byEmail.get(outcome.email)!
      const firsts = favoured
        .map((event) => list.find((message) => message.type === 'track' && message.event === event))
        .filter((message) => message !== undefined)
        .map((message) => Date.parse(message.timestamp))
      users[firsts.length]++
      if (outcome.convertedAt === undefined) continue
      converted[firsts.length]++
      const at = Date.parse(outcome.convertedAt)
      const reached = Math.max(Date.parse(list[0].timestamp), ...firsts)
      expect(at - reached).toBeGreaterThanOrEqual(DAY_MS)
      expect(at - reached).toBeLessThan(8 * DAY_MS)
      expect(at).toBeLessThan(Date.parse(base.end))
    }
    const rates = converted.map((count, k) => count / users[k])
    // 3%, 24% and 76%, less the users whose day to convert falls after the period.
    expect(rates[0]).toBeLessThan(0.05)
    expect(rates[1]).toBeGreaterThan(3 * rates[0])
    expect(rates[2]).toBeGreaterThan(2 * rates[1])
    expect(users[2]).toBeGreaterThan(30)
  })

  it('takes other favoured events, and refuses one no user does', () => {
    const { outcomes } = generateOutcomes(base, ['Teammate Invited'])
    expect(outcomes.some((outcome) => outcome.convertedAt !== undefined)).toBe(true)
    expect(() => generateOutcomes(base, ['Project Creatd'])).toThrow('no user does "Project Creatd" in this project-management stream')
    expect(() => generateOutcomes(base, [])).toThrow('at least one favoured event')
  })
})
