import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPipeline, generateEvents, loadModel, officialHubSpotApi, segmentMessageToProductEvent, simulate, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { fakeSlack, freezeDate, restoreFakes } from '../../harness/fakes'
import { REPO_ROOT } from '../../repo-root'
import { HOSTS } from '../conformance/hosts'
import type { Message } from '../conformance/scenarios'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'
import { addedSignal, changedPoints, renamedTier } from './models'

/**
 * Issue "Change the model, or HubSpot under it, without losing an event": half a stream
 * under the example model, then the change, then the other half, through every host. No
 * event may be refused (the drivers re-deliver what is retryable until nothing is left), and
 * after a sweep under the model in force HubSpot holds what simulate computes.
 */
const MODEL = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const MESSAGES: Message[] = generateEvents({ profile: 'project-management', users: 40, days: 30, end: '2026-11-01T00:00:00.000Z', seed: 18 })
const NOW = Date.parse('2026-11-01T00:00:00.000Z')
const HALF = Math.floor(MESSAGES.length / 2)

/** Calls the emulator's properties API as an admin editing the portal would. */
async function portal(emulator: Emulator, method: 'DELETE' | 'PATCH', path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${emulator.url}/crm/v3/properties/${path}`, {
    method,
    headers: { authorization: `Bearer ${emulator.accessToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
}

type Change = { name: string; after: string; edit?: (emulator: Emulator) => Promise<void>; leftOut?: string }
const CHANGES: Change[] = [
  { name: 'renaming a tier', after: renamedTier(MODEL) },
  { name: 'adding a signal', after: addedSignal(MODEL) },
  { name: 'changing points', after: changedPoints(MODEL) },
  { name: 'deleting a property in HubSpot', after: MODEL, edit: (emulator) => portal(emulator, 'DELETE', 'contacts/teammates_invited') },
  {
    name: 'retyping a property in HubSpot',
    after: MODEL,
    edit: (emulator) => portal(emulator, 'PATCH', 'contacts/tasks_created', { type: 'bool', fieldType: 'booleancheckbox' }),
    leftOut: 'tasks_created'
  }
]

beforeAll(() => {
  freezeDate(NOW)
  fakeSlack([])
})
afterAll(() => restoreFakes())

describe.each(CHANGES)('$name', (change) => {
  it.each(HOSTS.map((host) => [host.name, host] as const))('loses no event through %s', async (_name, host) => {
    const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
    try {
      const first = await host.deliver(MESSAGES.slice(0, HALF), { emulator, model: MODEL, now: NOW, batchSize: 25 })
      await change.edit?.(emulator)
      const second = await host.deliver(MESSAGES.slice(HALF), { emulator, model: change.after, now: NOW, batchSize: 25 })
      expect([...first.invalid, ...second.invalid]).toEqual([])

      const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
      await createPipeline({ api, model: loadModel(change.after) }).sweep(NOW, { sleep: async () => undefined })
      const stored = snapshot(emulator)
      const expected = simulate(loadModel(change.after), MESSAGES.map((message) => segmentMessageToProductEvent(message)), NOW)
      const differences = differencesFromSimulate(stored, expected).filter(
        // A new signal counts from the change on; a retyped property is left out of every write.
        (difference) => !(change.name === 'adding a signal' && /comments_added/.test(difference)) && !(change.leftOut && difference.includes(` ${change.leftOut}:`))
      )
      expect(differences).toEqual([])
    } finally {
      await emulator.stop()
    }
  }, 120_000)
})

describe('a portal that drifts under a running pipeline', () => {
  it('reconciles once and writes the batch, leaving out and naming a property of an incompatible type', async () => {
    const emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
    try {
      const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
      const pipeline = createPipeline({ api, model: loadModel(MODEL) })
      const events = MESSAGES.map((message) => segmentMessageToProductEvent(message))
      expect((await pipeline.process(events.slice(0, HALF), NOW)).results.every((result) => result.status === 'ok')).toBe(true)
      await portal(emulator, 'DELETE', 'contacts/teammates_invited')
      await portal(emulator, 'PATCH', 'contacts/tasks_created', { type: 'bool', fieldType: 'booleancheckbox' })
      const report = await pipeline.process(events.slice(HALF), NOW)
      expect(report.results.filter((result) => result.status !== 'ok')).toEqual([])
      expect(report.problems).toContain(
        'contacts.tasks_created is a bool property in HubSpot, but pqlkit writes number values to it: it is left out of every write (change its type in HubSpot, or rename it in the model)'
      )
      const names = (emulator.dump().properties as { objectType: string; name: string }[]).filter((p) => p.objectType === 'contacts').map((p) => p.name)
      expect(names).toContain('teammates_invited')
    } finally {
      await emulator.stop()
    }
  })
})
