import { FetchHubSpotApi, HubSpotSync, loadModel, ProductEvent, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../hubspot-emulator'

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

let emulator: Emulator
beforeAll(async () => (emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 1_000 } })))
afterAll(() => emulator.stop())

const track = (id: string, email: string, at: number): ProductEvent => ({
  kind: 'track',
  messageId: id,
  timestamp: new Date(at).toISOString(),
  email,
  event: 'Project Created',
  company: { groupId: 'acme' }
})

function sync(): HubSpotSync {
  const api = new FetchHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(), (url, init) => fetch(url, init))
  return new HubSpotSync(api, MODEL, { handBackContacts: true })
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

describe('HubSpotSync with handBackContacts (contacts delivered by the host)', () => {
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
})
