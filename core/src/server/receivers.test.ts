import { createHmac } from 'node:crypto'
import { loadModel } from '../model/load'
import { RECEIVERS, RequestError, segmentSignature } from './receivers'

const SECRET = 'a-shared-secret-0123456789'
const receiver = (path: string) => RECEIVERS.find((candidate) => candidate.path === path)!
const MODEL = loadModel(`
version: 1
name: receivers
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, every: 1, points: 10 }]
`)
const track = (messageId: string) => ({ type: 'track', event: 'Project Created', messageId, userId: 'u-1', timestamp: '2026-11-01T00:00:00.000Z' })

describe('Segment Webhooks (Actions) signatures', () => {
  it('signs a single event over its JSON, and a batch over its first event only, as Segment does', () => {
    const [a, b] = [track('m-1'), track('m-2')]
    const hmac = (text: string) => createHmac('sha1', SECRET).update(text, 'utf8').digest('hex')
    expect(segmentSignature(a, SECRET)).toBe(hmac(JSON.stringify(a)))
    expect(segmentSignature([a, b], SECRET)).toBe(hmac(JSON.stringify(a)))
  })

  it('accepts the signature, refuses a wrong or missing one', () => {
    const segment = receiver('/segment')
    const body = [track('m-1')]
    expect(() => segment.authenticate({ 'x-signature': segmentSignature(body, SECRET) }, body, SECRET)).not.toThrow()
    expect(() => segment.authenticate({ 'x-signature': segmentSignature(body, `${SECRET}x`) }, body, SECRET)).toThrow(RequestError)
    expect(() => segment.authenticate({}, body, SECRET)).toThrow(/missing or malformed x-signature/)
  })
})

describe('reading a request', () => {
  it('names an unreadable event, skips what pqlkit does not read, keeps the others', () => {
    const received = receiver('/rudderstack').events([track('m-1'), { type: 'page', messageId: 'p-1' }, { type: 'track', event: 'Pageview', messageId: 'm-2' }, 'junk'], MODEL, { groupType: 'company' })
    expect(received.map(({ where, event, skipped, error }) => ({ where, kept: event !== undefined, skipped, error }))).toEqual([
      { where: 'message m-1 track "Project Created"', kept: true, skipped: undefined, error: undefined },
      { where: 'message p-1 page', kept: false, skipped: 'a call type pqlkit does not read (page, screen, alias)', error: undefined },
      { where: 'message m-2 track "Pageview"', kept: false, skipped: 'no signal of the model reads this event', error: undefined },
      { where: 'message (no messageId)', kept: false, skipped: undefined, error: expect.stringContaining('not a JSON object') }
    ])
  })

  it('gives a Segment HTTP API batch its context, and takes the write key as the Basic user name or in the body', () => {
    const http = receiver('/v1/batch')
    const body = { batch: [track('m-1')], context: { traits: { email: 'ada@acme.io' } }, writeKey: SECRET }
    expect(http.events(body, MODEL, { groupType: 'company' })[0].event?.email).toBe('ada@acme.io')
    expect(() => http.authenticate({}, body, SECRET)).not.toThrow()
    expect(() => http.authenticate({ authorization: `Basic ${Buffer.from(`${SECRET}:`).toString('base64')}` }, { batch: [] }, SECRET)).not.toThrow()
    expect(() => http.authenticate({ authorization: 'Basic bm9wZTo=' }, { batch: [] }, SECRET)).toThrow(/write key/)
  })
})
