import nock from 'nock'
import { RetryableError } from '../engine/errors'
import { officialHubSpotApi } from '../hubspot/client'
import { Transport } from '../hubspot/transport'
import { loadModel } from '../model/load'
import type { HandoffIntent } from '../engine/evaluate'
import { httpsPostJson } from './https-post'
import { checkWebhook, DefaultHandoffSender, HandoffError } from './sender'
import { renderTemplate, escapeHtml } from './template'

const WEBHOOK = 'https://hooks.slack.com/services/T0001/B0001/very-secret-path'
const model = loadModel(`
version: 1
name: handoffs
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, points: 10 }]
    tiers: { Cold: 0, Sales-Ready: 80 }
handoff:
  - on: { enters: Sales-Ready }
    slack: { webhook: "${WEBHOOK}" }
    task: { title: "PQL handoff: {{firstname}} {{lastname}}", body: "{{firstname}} scored {{score}}: {{reasons}}", due: 1d }
`)

const intent: HandoffIntent = {
  handoff: model.handoffs[0],
  on: 'enters Sales-Ready',
  at: Date.parse('2026-03-01T10:00:00Z'),
  score: 90,
  tier: 'Sales-Ready',
  reasons: 'Projects (+90)',
  crossing: `${model.handoffs[0].key}@0`
}

beforeAll(() => nock.disableNetConnect())
afterEach(() => nock.cleanAll())
afterAll(() => nock.enableNetConnect())

describe('hand-off templates', () => {
  it('fill placeholders with plain text; a value is never itself read as a placeholder', () => {
    expect(renderTemplate('Hi {{firstname}} {{ lastname }}{{missing}}!', { firstname: '{{lastname}}', lastname: 'Lovelace' })).toBe(
      'Hi {{lastname}} Lovelace!'
    )
  })

  it('escape HTML for task bodies', () => {
    expect(renderTemplate('{{reasons}}', { reasons: '<b>x</b> & "y"' }, escapeHtml)).toBe('&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;')
  })
})

describe('Slack webhooks', () => {
  it('only https on an allow-listed host; the error never shows the URL', () => {
    expect(() => checkWebhook(WEBHOOK)).not.toThrow()
    const http = catchError(() => checkWebhook(WEBHOOK.replace('https:', 'http:')))
    expect(http.message).toBe('the Slack webhook is not an https URL')
    const other = catchError(() => checkWebhook('https://evil.example.com/services/T0001/B0001/very-secret-path'))
    expect(other.message).toBe("the Slack webhook's host evil.example.com is not allow-listed (hooks.slack.com)")
    expect(other.message).not.toContain('very-secret-path')
  })

  it('posts who, score, tier, reasons and a record link', async () => {
    let posted: { text: string; blocks: { text?: { text: string }; elements?: { text: string }[] }[] } | undefined
    const scope = nock('https://hooks.slack.com')
      .post('/services/T0001/B0001/very-secret-path', (body) => {
        posted = body
        return true
      })
      .reply(200, 'ok')
    const sender = new DefaultHandoffSender({ post: httpsPostJson, portalId: 42, now: () => intent.at })
    await sender.send({ ...intent, handoff: { ...intent.handoff, task: undefined } }, {
      id: '901',
      properties: { email: 'ada@acme.io', firstname: 'Ada', lastname: 'Love<lace>', company: 'Acme' }
    })
    scope.done()
    expect(posted!.text).toBe('PQL: Ada Love<lace> enters Sales-Ready (score 90)')
    expect(posted!.blocks[0].text!.text).toBe(
      '<https://app.hubspot.com/contacts/42/record/0-1/901|Ada Love&lt;lace&gt;> (ada@acme.io) at Acme\npql_score enters Sales-Ready: score *90*, tier *Sales-Ready*'
    )
    expect(posted!.blocks[1].elements![0].text).toBe('Projects (+90)')
  })

  it('a Slack failure is a HandoffError without the webhook in it', async () => {
    nock('https://hooks.slack.com').post(/.*/).reply(404, 'no_service')
    const sender = new DefaultHandoffSender({ post: httpsPostJson, now: () => intent.at })
    const error = await sender.send(intent, { id: '1', properties: {} }).catch((e) => e)
    expect(error).toBeInstanceOf(HandoffError)
    expect(error.message).toBe('Slack answered 404')
    nock('https://hooks.slack.com').post(/.*/).replyWithError({ code: 'ECONNREFUSED', message: `connect ECONNREFUSED ${WEBHOOK}` })
    const unreachable = await sender.send(intent, { id: '1', properties: {} }).catch((e) => e)
    expect(unreachable.message).toBe('Slack could not be reached (ECONNREFUSED)')
    // A sandbox's fetch (node-fetch in a Segment Function, RudderStack's fetchV2) names the URL in its message.
    const named = { message: `request to ${WEBHOOK} failed, reason: getaddrinfo ENOTFOUND`, code: 'ENOTFOUND' }
    const fetched = new DefaultHandoffSender({ post: () => Promise.reject(named), now: () => intent.at })
    expect((await fetched.send(intent, { id: '1', properties: {} }).catch((e) => e)).message).toBe('Slack could not be reached (ENOTFOUND)')
  })

  it('Slack answering 5xx or 429, or not reached, is a transient HandoffError (the outbox tries again); any other answer is not', async () => {
    const answering = (status: number) => new DefaultHandoffSender({ post: async () => ({ status }), now: () => intent.at })
    const slackOnly = { ...intent, handoff: { ...intent.handoff, task: undefined } }
    for (const [status, transient] of [[503, true], [429, true], [404, false], [403, false]] as const) {
      const error = await answering(status).send(slackOnly, { id: '1', properties: {} }).catch((e) => e)
      expect([error.message, error.transient]).toEqual([`Slack answered ${status}`, transient])
    }
    const unreachable = new DefaultHandoffSender({ post: () => Promise.reject({ code: 'ECONNRESET' }), now: () => intent.at })
    expect((await unreachable.send(slackOnly, { id: '1', properties: {} }).catch((e) => e)).transient).toBe(true)
  })

  it('with progress, a Slack post that landed before is not posted again, and one that lands is recorded before anything else', async () => {
    const posts: string[] = []
    const events: string[] = []
    const sender = new DefaultHandoffSender({ post: async (_url, body) => (posts.push(body), { status: 200 }), now: () => intent.at })
    const slackOnly = { ...intent, handoff: { ...intent.handoff, task: undefined } }
    const progress = (slackSent: boolean) => ({
      firstAttemptAt: intent.at,
      attemptedBefore: slackSent,
      slackSent,
      taskSent: false,
      slackLanded: async () => void events.push(`recorded after ${posts.length} post`),
      taskLanded: async () => void events.push('task')
    })
    await sender.send(slackOnly, { id: '1', properties: {} }, progress(true))
    expect(posts).toEqual([])
    await sender.send(slackOnly, { id: '1', properties: {} }, progress(false))
    expect(events).toEqual(['recorded after 1 post'])
  })

  it('a part that failed for good does not hide one that may land later: the transient failure is thrown', async () => {
    const BASE = 'https://hubspot.test'
    nock(BASE).post('/crm/v3/objects/tasks').reply(503, { status: 'error', message: 'Service unavailable', category: 'INTERNAL_ERROR' })
    const api = officialHubSpotApi({ accessToken: 'pat-unit-test', basePath: BASE }, new Transport())
    const sender = new DefaultHandoffSender({ post: async () => ({ status: 404 }), api, now: () => intent.at })
    const progress = { firstAttemptAt: intent.at, attemptedBefore: false, slackSent: false, taskSent: false, slackLanded: async () => {}, taskLanded: async () => {} }
    const error = await sender.send(intent, { id: '1', properties: {} }, progress).catch((e) => e)
    expect(error).toBeInstanceOf(RetryableError)
  })

  it('a task needs the HubSpot client and the contact id', async () => {
    const sender = new DefaultHandoffSender({ post: async () => ({ status: 200 }), now: () => intent.at })
    await expect(sender.send(intent, { id: '1', properties: {} })).rejects.toThrow('no HubSpot client to create the task with')
  })
})

function catchError(run: () => void): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected an error')
}
