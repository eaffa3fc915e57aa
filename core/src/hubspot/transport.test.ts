import nock from 'nock'
import { RetryableError } from '../engine/errors'
import type { HubSpotApi } from './api'
import { officialHubSpotApi } from './client'
import { Clock, HubSpotRequestError, RateLimiter, Transport } from './transport'

const BASE = 'https://hubspot.test'
const TOKEN = 'pat-na1-unit-test-secret'

/** A clock whose sleeps pass instantly and are recorded. */
function fakeClock(start = Date.parse('2026-03-01T00:00:00Z')): Clock & { sleeps: number[]; at: number } {
  const clock = {
    at: start,
    sleeps: [] as number[],
    now: () => clock.at,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms)
      clock.at += ms
    }
  }
  return clock
}

function api(clock: Clock, attempts = 4): HubSpotApi {
  return officialHubSpotApi({ accessToken: TOKEN, basePath: BASE }, new Transport(clock, { attempts, baseDelayMs: 100, maxDelayMs: 1_000 }, () => 0.5))
}

const READ = '/crm/v3/objects/contacts/batch/read'
const readBody = { status: 'COMPLETE', results: [{ id: '1', properties: { email: 'ada@acme.io' } }], startedAt: '2026-03-01T00:00:00Z', completedAt: '2026-03-01T00:00:00Z' }
const rateLimited = {
  status: 'error',
  message: 'You have reached your ten_secondly_rolling limit.',
  errorType: 'RATE_LIMIT',
  correlationId: 'c0ffee00-0000-4000-8000-000000000000',
  policyName: 'TEN_SECONDLY_ROLLING'
}

beforeAll(() => nock.disableNetConnect())
afterEach(() => nock.cleanAll())
afterAll(() => nock.enableNetConnect())

describe('the HubSpot transport', () => {
  it('sends the bearer token and reads a batch through the official client', async () => {
    const scope = nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
      .post(READ, (body) => body.idProperty === 'email' && body.inputs[0].id === 'ada@acme.io' && body.properties.includes('pqlkit_state')).query(true)
      .reply(200, readBody)
    const result = await api(fakeClock()).batchRead('contacts', 'email', ['ada@acme.io'], ['pqlkit_state'])
    expect(result.results).toEqual([{ id: '1', properties: { email: 'ada@acme.io' } }])
    scope.done()
  })

  /** One TEN_SECONDLY_ROLLING 429 with HubSpot's headers, then success; returns the total wait. */
  async function waitAfter429(remaining: number): Promise<number> {
    const clock = fakeClock()
    nock(BASE)
      .post(READ).query(true)
      .reply(429, rateLimited, {
        'X-HubSpot-RateLimit-Max': '100',
        'X-HubSpot-RateLimit-Remaining': String(remaining),
        'X-HubSpot-RateLimit-Interval-Milliseconds': '10000'
      })
      .post(READ).query(true)
      .reply(200, readBody)
    const hubspot = api(clock)
    await hubspot.batchRead('contacts', 'email', ['ada@acme.io'], [])
    expect(hubspot.transport.stats).toMatchObject({ calls: 2, retries: 1 })
    return clock.sleeps.reduce((a, b) => a + b, 0)
  }

  it('a TEN_SECONDLY_ROLLING 429 on an exhausted window waits for the 10 s window to roll, then retries', async () => {
    expect(await waitAfter429(0)).toBeGreaterThanOrEqual(10_000)
  })

  it('a 429 while the window still has room (a shared or secondly limit) backs off briefly instead', async () => {
    const waited = await waitAfter429(60)
    expect(waited).toBeGreaterThan(0)
    expect(waited).toBeLessThan(10_000)
  })

  it('5xx answers back off exponentially and give up with a RetryableError after the bounded attempts', async () => {
    const clock = fakeClock()
    nock(BASE)
      .post(READ).query(true).times(2).reply(503, { status: 'error', message: 'Service unavailable', category: 'INTERNAL_ERROR' })
      .post(READ).query(true).times(2).reply(502, '<html>Bad gateway</html>', { 'Content-Type': 'text/html' })
    const error = await api(clock, 4).batchRead('contacts', 'email', ['a@b.co'], []).catch((e) => e)
    expect(error).toBeInstanceOf(RetryableError)
    expect(error.message).toContain('failed 4 times (last: status 502)')
    // Jitter is fixed at 0.5 here: delay/2 + 0.5 × delay/2 for 100, 200, 400 ms.
    expect(clock.sleeps).toEqual([75, 150, 300])
    expect(nock.isDone()).toBe(true)
  })

  const daily = { ...rateLimited, policyName: 'DAILY', message: 'You have reached your daily limit.' }
  const details = (timeZone: string) => ({ portalId: 1, timeZone, accountType: 'STANDARD', companyCurrency: 'USD', additionalCurrencies: [], utcOffset: '', utcOffsetMilliseconds: 0, uiDomain: '', dataHostingLocation: 'na1' })

  it('a DAILY 429 is retryable at midnight in the portal time zone (account info), never spun on', async () => {
    nock(BASE).post(READ).query(true).once().reply(429, daily)
    nock(BASE).get('/account-info/v3/details').once().reply(200, details('America/Los_Angeles'))
    // 18:00 UTC is 10:00 in Los Angeles: the portal's day ends in 14 hours, not UTC's 6.
    const clock = fakeClock(Date.parse('2026-03-01T18:00:00Z'))
    const error = await api(clock).batchRead('contacts', 'email', ['a@b.co'], []).catch((e) => e)
    expect(error).toBeInstanceOf(RetryableError)
    expect(error.retryAfterMs).toBe(14 * 3_600_000)
    expect(error.message).toContain("midnight in the portal's time zone, America/Los_Angeles")
    expect(clock.sleeps).toEqual([])
    expect(nock.isDone()).toBe(true)
  })

  it('a DAILY 429 whose account info is refused too waits for midnight UTC, and says so', async () => {
    nock(BASE).post(READ).query(true).once().reply(429, daily)
    nock(BASE).get('/account-info/v3/details').once().reply(429, daily)
    const clock = fakeClock(Date.parse('2026-03-01T18:00:00Z'))
    const error = await api(clock).batchRead('contacts', 'email', ['a@b.co'], []).catch((e) => e)
    expect(error.retryAfterMs).toBe(6 * 3_600_000)
    expect(error.message).toContain("UTC (the portal's time zone could not be read)")
    expect(nock.isDone()).toBe(true)
  })

  it('reads the time zone once, while 5% of the day is left, so the DAILY 429 needs no call', async () => {
    const headers = (remaining: number) => ({ 'x-hubspot-ratelimit-daily': '1000', 'x-hubspot-ratelimit-daily-remaining': String(remaining) })
    nock(BASE).post(READ).query(true).once().reply(200, readBody, headers(51))
    nock(BASE).post(READ).query(true).twice().reply(200, readBody, headers(50))
    nock(BASE).get('/account-info/v3/details').once().reply(200, details('Asia/Kolkata'))
    nock(BASE).post(READ).query(true).once().reply(429, daily)
    const clock = fakeClock(Date.parse('2026-03-01T18:00:00Z'))
    const hubspot = api(clock)
    for (let i = 0; i < 3; i++) await hubspot.batchRead('contacts', 'email', ['a@b.co'], [])
    const error = await hubspot.batchRead('contacts', 'email', ['a@b.co'], []).catch((e) => e)
    // 18:00 UTC is 23:30 in Kolkata.
    expect(error.retryAfterMs).toBe(30 * 60_000)
    expect(hubspot.transport.stats.byEndpoint['GET /account-info/v3/details']).toBe(1)
    expect(nock.isDone()).toBe(true)
  })

  it('a 400 is not retried and keeps HubSpot category and message, without the token', async () => {
    nock(BASE)
      .post(READ).query(true)
      .once()
      .reply(400, { status: 'error', message: 'Property values were not valid', correlationId: 'x', category: 'VALIDATION_ERROR' })
    const error = await api(fakeClock()).batchRead('contacts', 'email', ['a@b.co'], []).catch((e) => e)
    expect(error).toBeInstanceOf(HubSpotRequestError)
    expect(error.status).toBe(400)
    expect(error.message).toBe(`HubSpot POST ${READ} answered 400 VALIDATION_ERROR: Property values were not valid`)
    expect(JSON.stringify(error)).not.toContain(TOKEN)
    expect(String(error.stack)).not.toContain(TOKEN)
  })

  it('a dropped connection is retried like a 5xx', async () => {
    nock(BASE).post(READ).query(true).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' }).post(READ).query(true).reply(200, readBody)
    const hubspot = api(fakeClock())
    expect((await hubspot.batchRead('contacts', 'email', ['a@b.co'], [])).results).toHaveLength(1)
    expect(hubspot.transport.stats.retries).toBe(1)
  })

  it('a create that must not repeat blindly (repeatUnanswered: false) is thrown at once after no answer or a 5xx; a 429 still waits and repeats', async () => {
    const TASKS = '/crm/v3/objects/tasks'
    const hubspot = api(fakeClock())
    nock(BASE).post(TASKS).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' })
    const dropped = await hubspot.createTask({ hs_timestamp: '0' }, '1', { repeatUnanswered: false }).catch((e) => e)
    expect(dropped).toBeInstanceOf(RetryableError)
    expect(dropped.message).toBe(`HubSpot POST ${TASKS} failed (ECONNRESET); not repeated: HubSpot may have carried it out`)
    nock(BASE).post(TASKS).reply(503, { status: 'error', message: 'Service unavailable', category: 'INTERNAL_ERROR' })
    expect(await hubspot.createTask({ hs_timestamp: '0' }, '1', { repeatUnanswered: false }).catch((e) => e)).toBeInstanceOf(RetryableError)
    expect(hubspot.transport.stats.retries).toBe(0)
    nock(BASE).post(TASKS).reply(429, rateLimited).post(TASKS).reply(201, { id: '77', properties: {} })
    expect(await hubspot.createTask({ hs_timestamp: '0' }, '1', { repeatUnanswered: false })).toBe('77')
    expect(hubspot.transport.stats.retries).toBe(1)
  })

  it('one process serves two portals at once, each call with its own token and base URL', async () => {
    for (const [base, token] of [['https://portal-a.test', 'token-a'], ['https://portal-b.test', 'token-b']]) {
      nock(base, { reqheaders: { authorization: `Bearer ${token}` } })
        .post(READ).query(true).delay(20)
        .reply(200, { ...readBody, results: [{ id: token, properties: {} }] })
    }
    const a = officialHubSpotApi({ accessToken: 'token-a', basePath: 'https://portal-a.test' }, new Transport(fakeClock()))
    const b = officialHubSpotApi({ accessToken: 'token-b', basePath: 'https://portal-b.test' }, new Transport(fakeClock()))
    const [fromA, fromB] = await Promise.all([a.batchRead('contacts', 'email', ['x@y.co'], []), b.batchRead('contacts', 'email', ['x@y.co'], [])])
    expect([fromA.results[0].id, fromB.results[0].id]).toEqual(['token-a', 'token-b'])
  })
})

describe('the rate limiter', () => {
  it('lets max calls through per interval, then waits for the oldest to leave the window', async () => {
    const clock = fakeClock()
    const limiter = new RateLimiter(clock)
    limiter.observe({ 'x-hubspot-ratelimit-max': '3', 'x-hubspot-ratelimit-interval-milliseconds': '1000' })
    for (let i = 0; i < 3; i++) await limiter.acquire()
    expect(clock.sleeps).toEqual([])
    await limiter.acquire()
    expect(clock.sleeps).toEqual([1001])
  })

  it('trusts a lower X-HubSpot-RateLimit-Remaining (another process shares the limit)', async () => {
    const clock = fakeClock()
    const limiter = new RateLimiter(clock)
    limiter.observe({ 'x-hubspot-ratelimit-max': '10', 'x-hubspot-ratelimit-interval-milliseconds': '1000', 'x-hubspot-ratelimit-remaining': '1' })
    await limiter.acquire()
    expect(clock.sleeps).toEqual([])
    await limiter.acquire()
    expect(clock.sleeps).toHaveLength(1)
  })
})
