import {
  createPipeline,
  HandoffSender,
  HubSpotApi,
  HubSpotCalls,
  loadModel,
  Pipeline,
  ProductEvent,
  RetryableError,
  Transport
} from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'

const NOW = Date.parse('2026-03-20T12:00:00.000Z')
const MODEL = loadModel(`
version: 1
name: hand-back
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, points: 10 }]
company:
  signals:
    users: { distinct_users: "*" }
`)

const HANDOFF_MODEL = loadModel(`
version: 1
name: hand-back hand-offs
signals:
  projects: { count: "Project Created" }
scores:
  - property: pql_score
    rules: [{ label: Projects, per: projects, points: 10 }]
    tiers: { Cold: 0, Hot: 20 }
handoff:
  - on: { enters: Hot }
    slack: { webhook: "https://hooks.slack.com/services/T0/B0/hand-back" }
company:
  signals:
    users: { distinct_users: "*" }
`)

let emulator: Emulator
beforeAll(async () => (emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 1_000 } })))
afterAll(() => emulator.stop())

const track = (id: string, email: string, at: number, groupId = 'acme'): ProductEvent => ({
  kind: 'track',
  messageId: id,
  timestamp: new Date(at).toISOString(),
  email,
  event: 'Project Created',
  company: { groupId }
})

function api(): HubSpotCalls {
  return new HubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(), (url, init) => fetch(url, init))
}

function sync(): Pipeline {
  return createPipeline({ api: api(), model: MODEL, handBackContacts: true })
}

/** Delivers handed-back contacts as RudderStack's HubSpot destination does: upsert by email. */
async function deliver(contacts: { email: string; properties: Record<string, string> }[]): Promise<void> {
  const response = await fetch(`${emulator.url}/crm/v3/objects/contacts/batch/upsert`, {
    method: 'POST',
    headers: { authorization: `Bearer ${emulator.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: contacts.map(({ email, properties }) => ({ idProperty: 'email', id: email, properties: { ...properties, email } })) })
  })
  expect(response.status).toBe(200)
}

describe('Pipeline with handBackContacts (contacts delivered by the host)', () => {
  it('hands contacts back with their absolute properties and state, writes companies, and associates a contact once it exists', async () => {
    const first = await sync().process([track('m1', 'ada@acme.io', NOW - 1000), track('m2', 'Ada@Acme.io', NOW - 500)], NOW)
    expect(first.results).toEqual([{ status: 'ok' }, { status: 'ok' }])
    expect(first.written.contacts).toBe(0)
    expect(emulator.dump().contacts).toEqual([])
    expect(emulator.dump().companies).toHaveLength(1)
    expect(first.contacts).toEqual([
      { email: 'ada@acme.io', events: [0, 1], properties: expect.objectContaining({ projects: '2', pql_score: '20', pqlkit_state: expect.any(String) }) }
    ])
    await deliver(first.contacts!)
    expect(emulator.dump().associations).toEqual([])

    const second = await sync().process([track('m2', 'ada@acme.io', NOW - 500), track('m3', 'ada@acme.io', NOW - 100)], NOW)
    expect(second.contacts).toEqual([{ email: 'ada@acme.io', events: [0, 1], properties: expect.objectContaining({ projects: '3', pql_score: '30' }) }])
    expect(emulator.dump().associations).toHaveLength(1)
    await deliver(second.contacts!)
    const third = await sync().process([track('m3', 'ada@acme.io', NOW - 100)], NOW)
    expect(third.contacts).toEqual([])
  })

  it('sends a hand-off only for a contact handed back: not while its events fail for their company, so their replay does not send it twice', async () => {
    const sent: string[] = []
    const sender: HandoffSender = { send: async (intent, contact) => void sent.push(`${contact.properties.email} ${intent.on}`) }
    const first = await createPipeline({ api: api(), model: HANDOFF_MODEL, handBackContacts: true }).process([track('g1', 'cy@globex.io', NOW - 900, 'globex')], NOW)
    await deliver(first.contacts!)

    const down = api()
    const companiesDown: HubSpotCalls = Object.assign(Object.create(down), {
      batchUpsert: (objectType: 'contacts' | 'companies', inputs: never[]) =>
        objectType === 'companies' ? Promise.reject(new RetryableError('HubSpot answered 503', 1_000)) : down.batchUpsert(objectType, inputs)
    })
    const failed = await createPipeline({ api: companiesDown, model: HANDOFF_MODEL, handoffs: sender, handBackContacts: true }).process([track('g2', 'cy@globex.io', NOW - 800, 'globex')], NOW)
    expect(failed.results).toEqual([expect.objectContaining({ status: 'retryable' })])
    expect(sent).toEqual([])

    const replayed = await createPipeline({ api: api(), model: HANDOFF_MODEL, handoffs: sender, handBackContacts: true }).process([track('g2', 'cy@globex.io', NOW - 800, 'globex')], NOW)
    expect(replayed.results).toEqual([{ status: 'ok' }])
    expect(sent).toEqual(['cy@globex.io enters Hot'])
  })
})
