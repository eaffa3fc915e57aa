import { loadModel, modelProperties } from '@pqlkit/core/portable'
import type { FetchV2, FetchV2Response, Sandbox } from './sandbox'
import { pqlkit } from './transform-event'

const MODEL = {
  version: 1,
  name: 'rudderstack unit',
  signals: { projects: { count: 'Project Created' } },
  scores: [{ property: 'pql_score', rules: [{ label: 'Projects', per: 'projects', points: 10 }] }]
}
const SETTINGS = { hubspotBaseUrl: 'https://hubspot.test' }
const NOW = Date.now()

/** A HubSpot that answers every call with `answer(path)`; records the calls. */
function sandbox(answer: (path: string, body: unknown) => FetchV2Response, token: unknown = 'pat-test'): Sandbox & { calls: string[] } {
  const calls: string[] = []
  const fetchV2: FetchV2 = async (url, init) => {
    const path = url.replace('https://hubspot.test', '')
    calls.push(`${init.method} ${path.split('?')[0]}`)
    return answer(path, init.body === undefined ? undefined : JSON.parse(init.body))
  }
  return { fetchV2, getCredential: () => token, calls }
}

/** A portal that has the model's properties and no contacts yet. */
const emptyPortal = (path: string): FetchV2Response => {
  if (path.startsWith('/crm/v3/properties/contacts/groups')) return { status: 200, body: { results: [{ name: 'pqlkit_product_usage' }, { name: 'pqlkit_internals' }] } }
  if (path.startsWith('/crm/v3/properties/contacts')) return { status: 200, body: { results: modelProperties(loadModel(JSON.stringify(MODEL)), 'contacts') } }
  if (path.includes('/batch/read')) return { status: 200, body: { status: 'COMPLETE', results: [] } }
  return { status: 500, body: { message: `unexpected ${path}` } }
}

const track = (messageId: string, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  messageId,
  event: 'Project Created',
  timestamp: new Date(NOW - 60_000).toISOString(),
  userId: 'u1',
  context: { traits: { email: 'ada@acme.io' } },
  ...extra
})

describe('transformEvent (RudderStack)', () => {
  it('answers a scored event with an identify carrying its contact’s changed properties, for the destination to upsert by email', async () => {
    const transform = pqlkit(MODEL, SETTINGS, sandbox(emptyPortal))
    const output = await transform(track('m1'))
    expect(output).toMatchObject({
      type: 'identify',
      messageId: 'm1-pqlkit',
      userId: 'u1',
      context: { traits: { email: 'ada@acme.io' } },
      traits: { email: 'ada@acme.io', projects: '1', pql_score: '10', pqlkit_user_id: 'u1' }
    })
  })

  it('gathers the calls of one turn into one batch: one read for the whole batch', async () => {
    const host = sandbox(emptyPortal)
    const transform = pqlkit(MODEL, SETTINGS, host)
    const outputs = await Promise.all([transform(track('a', { userId: 'u1' })), transform(track('b', { userId: 'u2', context: { traits: { email: 'bo@acme.io' } } }))])
    expect(outputs.map((output) => output?.context.traits.email)).toEqual(['ada@acme.io', 'bo@acme.io'])
    expect(host.calls.filter((call) => call.endsWith('/batch/read'))).toHaveLength(2)
  })

  it('passes page, screen and alias calls through as null, without calling HubSpot', async () => {
    const host = sandbox(emptyPortal)
    expect(await pqlkit(MODEL, SETTINGS, host)({ type: 'page', messageId: 'p1' })).toBeNull()
    expect(host.calls).toEqual([])
  })

  it('fails an event without identity alone, naming the field', async () => {
    const transform = pqlkit(MODEL, SETTINGS, sandbox(emptyPortal))
    const [bad, good] = await Promise.allSettled([transform(track('bad', { userId: undefined, context: {} })), transform(track('good'))])
    expect(bad).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/^pqlkit: email: the event has no identity/) } })
    expect(good.status).toBe('fulfilled')
  })

  it('fails every event with the model’s whole reason on one line when the pasted model is invalid', async () => {
    const rules = [{ label: 'X', per: 'nope', points: 1 }, { label: 'Y', per: 'nada', points: 1 }]
    const broken = { ...MODEL, scores: [{ property: 'pql_score', rules }] }
    const transform = pqlkit(broken, SETTINGS, sandbox(emptyPortal))
    const errors = await Promise.all([transform(track('m1')).catch((e: Error) => e), transform(track('m2')).catch((e: Error) => e)])
    for (const error of errors) {
      // RudderStack may keep only the first line of the stack: the first line is the whole reason.
      expect((error as Error).stack!.split('\n')[0]).toMatch(/^Error: pqlkit: invalid model PQLKIT_MODEL: .*nope.*; .*nada/)
    }
  })

  it('a thrown value that is not an Error (a string, a plain object) still fails only its event, as an Error naming it', async () => {
    const host = sandbox(emptyPortal)
    const transform = pqlkit(MODEL, SETTINGS, {
      ...host,
      getCredential: () => {
        throw 'the vault is sealed'
      }
    })
    const error = (await transform(track('m1')).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(Error)
    expect(error.message).toBe('pqlkit: the vault is sealed')
    const plain = pqlkit(MODEL, SETTINGS, { ...host, fetchV2: () => Promise.reject({ message: 'socket hang up', code: 'ECONNRESET' }) })
    const failed = (await plain(track('m2')).catch((e: unknown) => e)) as Error
    expect(failed).toBeInstanceOf(Error)
    expect(failed.message).toMatch(/^pqlkit: HubSpot could not take this batch \(.*ECONNRESET.*\)/)
  })

  it("puts the batch's problems on the returned identify, where RudderStack shows them in production", async () => {
    // The portal has pql_score as a checkbox: pqlkit leaves it out of the writes and says so.
    const retyped = (path: string): FetchV2Response => {
      if (!path.startsWith('/crm/v3/properties/contacts') || path.includes('groups')) return emptyPortal(path)
      const properties = modelProperties(loadModel(JSON.stringify(MODEL)), 'contacts')
      return { status: 200, body: { results: properties.map((p) => (p.name === 'pql_score' ? { ...p, type: 'bool', fieldType: 'booleancheckbox' } : p)) } }
    }
    const output = await pqlkit(MODEL, SETTINGS, sandbox(retyped))(track('m1'))
    expect(output?.context.pqlkit?.problems).toEqual([expect.stringContaining('pql_score')])
    expect(output?.traits.pql_score).toBeUndefined()
  })

  it('names the missing credential', async () => {
    const transform = pqlkit(MODEL, SETTINGS, sandbox(emptyPortal, ''))
    await expect(transform(track('m1'))).rejects.toThrow('pqlkit: the credential HUBSPOT_ACCESS_TOKEN is not set: add it under Settings → Credentials')
  })

  it('turns a HubSpot outage into a send-again error for the batch, without the token', async () => {
    const host = sandbox((path) => (path.includes('/batch/read') ? { status: 503, body: '<html>down</html>' } : emptyPortal(path)))
    const error = (await pqlkit(MODEL, SETTINGS, host)(track('m1')).catch((e: Error) => e)) as Error
    expect(error.message).toMatch(/^pqlkit: HubSpot could not take this batch \(.*\); send the events again once it is back$/)
    expect(error.message).not.toContain('pat-test')
  })
})
