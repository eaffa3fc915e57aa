import { generateEvents, segmentMessageToProductEvent } from '@pqlkit/core'
import { Parser } from 'acorn'
import { analyze } from 'eslint-scope'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parse } from 'yaml'
import { buildBundles } from '../../../destinations/rudderstack/scripts/build'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'
import { pasted } from '../../harness/rudderstack/transformation'
import { startTransformer, Transformer } from '../../harness/rudderstack/transformer'
import { RUDDERSTACK_LIMITS, TransformerEvent } from '../../harness/rudderstack/sandbox'

const MODEL_FILE = join(REPO_ROOT, 'examples/project-management.yaml')
const MODEL_DOCUMENT = parse(readFileSync(MODEL_FILE, 'utf8'))
/** The sandbox's own globals the transformation may use besides the language's. */
const RUDDERSTACK_GLOBALS = ['fetchV2', 'getCredential', 'log']
/** SPEC §6: what the sandbox does not have. */
const FORBIDDEN = ['setTimeout', 'URL', 'TextEncoder', 'crypto', 'Buffer', 'require', 'process', 'performance', 'fetch']

let emulator: Emulator
let transformer: Transformer
let bundles: { transformation: string; library: string }

function freeReferences(code: string): Set<string> {
  const ast = Parser.parse(code, { ecmaVersion: 2022, sourceType: 'module', ranges: true })
  const imports = (ast as unknown as { body: { type: string }[] }).body.filter((node) => node.type === 'ImportDeclaration')
  if (imports.length > 0 || /\bimport\s*\(/.test(code)) throw new Error('the bundle imports')
  return new Set(analyze(ast, { ecmaVersion: 2022, sourceType: 'module' }).globalScope.through.map((reference) => reference.identifier.name))
}

function asEvents(messages: Record<string, unknown>[]): TransformerEvent[] {
  return messages.map((message, index) => ({ message, metadata: { messageId: message.messageId, sourceId: 's', destinationId: 'd', jobId: index + 1 } }))
}

function code(settings: Record<string, unknown> = {}): string {
  return pasted(MODEL_DOCUMENT, { hubspotBaseUrl: emulator.url, slackHosts: [], ...settings })
}

const credentials = (): Record<string, string> => ({ HUBSPOT_ACCESS_TOKEN: emulator.accessToken })

/** 200 events of the synthetic product, as the gateway hands them on (timestamps of the last days). */
function realisticBatch(): Record<string, unknown>[] {
  const messages = generateEvents({ profile: 'project-management', users: 60, days: 10, end: new Date().toISOString(), seed: 7 })
  return messages.slice(0, 200).map((message) => ({ ...message, originalTimestamp: message.timestamp, anonymousId: `anon-${message.userId}` }))
}

beforeAll(async () => {
  bundles = await buildBundles()
  transformer = startTransformer()
  emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 1_000 } })
}, 60_000)
afterAll(async () => {
  await transformer.stop()
  await emulator.stop()
})
beforeEach(() => {
  emulator.reset()
  emulator.setFaults(undefined)
})

describe('the built RudderStack transformation', () => {
  it('is one ES module without imports that names only what the sandbox has, and so is the library', async () => {
    const probe = await transformer.run('export function transformEvent(event) { return { ...event, names: Object.getOwnPropertyNames(globalThis) } }', asEvents([{ messageId: 'm1', type: 'track' }]), {})
    const output = probe.results[0]
    if (output.statusCode !== 200) throw new Error(`the probe failed: ${JSON.stringify(output)}`)
    const available = new Set([...(output.output.names as string[]), ...RUDDERSTACK_GLOBALS])
    for (const forbidden of FORBIDDEN) expect(available.has(forbidden)).toBe(false)
    for (const bundle of [bundles.transformation, bundles.library]) {
      const missing = [...freeReferences(bundle)].filter((name) => !available.has(name))
      expect(missing).toEqual([])
    }
    expect(bundles.transformation.indexOf('const PQLKIT_MODEL = {')).toBeLessThan(bundles.transformation.indexOf('var '))
    expect(bundles.library).toMatch(/export\s*{[^}]*\bpqlkit\b/)
  })

  it('runs 200 realistic events against a HubSpot answering in 50 ms, one identify per contact', async () => {
    emulator.setFaults({ seed: 1, latencyMs: 50 })
    const batch = realisticBatch()
    const report = await transformer.run(code(), asEvents(batch), credentials())
    console.log(`200 events, 50 ms per HubSpot call: ${Math.round(report.elapsedMs)} ms (${emulator.stats().requests} calls)`)
    expect(report.results.filter((result) => result.statusCode === 400)).toEqual([])
    const identifies = report.results.flatMap((result) => (result.statusCode === 200 ? [result.output] : []))
    const emails = new Set(batch.map((message) => segmentMessageToProductEvent(message).email?.trim().toLowerCase()))
    emails.delete(undefined)
    expect(identifies.map((identify) => (identify.traits as Record<string, string>).email).sort()).toEqual([...emails].sort())
    for (const identify of identifies) {
      expect(identify).toMatchObject({ type: 'identify', context: { traits: { email: expect.any(String) } } })
      expect((identify.traits as Record<string, string>).pqlkit_state).toEqual(expect.any(String))
    }
    // Companies are written by the transformation itself; contacts are left to the HubSpot
    // destination, but for the bare records a crossing is claimed on (identity and claim only).
    const own = new Set(['createdate', 'email', 'hs_object_id', 'lastmodifieddate', 'pqlkit_handoff_claim', 'pqlkit_user_id'])
    for (const contact of emulator.dump().contacts as { properties: Record<string, string> }[]) {
      expect(Object.keys(contact.properties).filter((name) => !own.has(name))).toEqual([])
      expect(contact.properties.pqlkit_handoff_claim).toEqual(expect.any(String))
    }
    expect(emulator.dump().companies.length).toBeGreaterThan(0)
  })

  it("reports an identity-less event as that event's error while the others succeed", async () => {
    const batch = realisticBatch().slice(0, 20)
    const anonymous = { type: 'track', event: 'Project Created', messageId: 'no-identity', anonymousId: 'anon-1', originalTimestamp: new Date().toISOString(), properties: {} }
    const report = await transformer.run(code(), asEvents([...batch.slice(0, 10), anonymous, ...batch.slice(10)]), credentials())
    const failed = report.results.filter((result) => result.statusCode === 400)
    expect(failed).toEqual([{ statusCode: 400, error: expect.stringMatching(/^Error: pqlkit: .*(email|userId)/), metadata: expect.objectContaining({ messageId: 'no-identity' }) }])
    expect(report.results.filter((result) => result.statusCode === 200).length).toBeGreaterThan(0)
    expect(report.results.filter((result) => result.statusCode === 298 || result.statusCode === 200).length).toBeGreaterThanOrEqual(20)
  })

  it('fails the batch with a clear error when HubSpot is down during the read, and never shows the token', async () => {
    // HubSpot answers everything but the batch reads, which fail with 503 as in an outage.
    const outage = createServer(async (request, response) => {
      const chunks: Buffer[] = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      if (request.url!.includes('/batch/read')) {
        response.writeHead(503, { 'content-type': 'text/html' }).end('<html>Service Unavailable</html>')
        return
      }
      const answer = await fetch(`${emulator.url}${request.url}`, {
        method: request.method,
        headers: { authorization: String(request.headers.authorization), 'content-type': 'application/json' },
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined
      })
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text())
    })
    await new Promise<void>((resolve) => outage.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(outage.address() as AddressInfo).port}`
      const report = await transformer.run(code({ hubspotBaseUrl: url }), asEvents(realisticBatch().slice(0, 30)), credentials())
      expect(report.results).toHaveLength(30)
      for (const result of report.results) {
        expect(result).toMatchObject({ statusCode: 400, error: expect.stringMatching(/^Error: pqlkit: HubSpot could not take this batch \(HubSpot POST \/crm\/v3\/objects\/contacts\/batch\/read failed 2 times \(last: status 503\)\)/) })
        expect(JSON.stringify(result)).not.toContain(emulator.accessToken)
      }
      expect(emulator.dump().companies).toEqual([])
    } finally {
      await new Promise((resolve) => outage.close(resolve))
    }
  })

  it('without the credential, every event fails saying which credential to add', async () => {
    const report = await transformer.run(code(), asEvents(realisticBatch().slice(0, 5)), {})
    expect(report.results.map((result) => (result.statusCode === 400 ? result.error.split('\n')[0] : result.statusCode))).toEqual(
      Array(5).fill('Error: pqlkit: the credential HUBSPOT_ACCESS_TOKEN is not set: add it under Settings → Credentials')
    )
  })

  it("an invalid pasted model fails every event with the model's whole reason in the error RudderStack keeps", async () => {
    const broken = pasted({ ...MODEL_DOCUMENT, version: 2 }, { hubspotBaseUrl: emulator.url })
    const report = await transformer.run(broken, asEvents(realisticBatch().slice(0, 3)), credentials())
    expect(report.results).toHaveLength(3)
    for (const result of report.results) {
      expect(result.statusCode).toBe(400)
      if (result.statusCode === 400) expect(result.error.split('\n')[0]).toMatch(/^Error: pqlkit: invalid model PQLKIT_MODEL: PQLKIT_MODEL: version: expected version: 1$/)
    }
  })
})

describe("the runner follows rudder-transformer's rules", () => {
  const one = asEvents([{ messageId: 'm1', type: 'track' }, { messageId: 'm2', type: 'track' }])
  /** A loopback server answering after `ms`. */
  async function slowServer(ms: number): Promise<{ url: string; close(): Promise<void> }> {
    const server = createServer((_, response) => void setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'), ms))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }) }
  }

  it("has RudderStack's limits: 128 MB, 4 s for the call's synchronous start, 600 s for the whole batch", () => {
    expect(RUDDERSTACK_LIMITS).toEqual({ memoryMb: 128, syncTimeoutMs: 4_000, timeoutMs: 600_000 })
  })

  it('lets awaited work run past the synchronous limit, within the whole-batch limit (scaled down here)', async () => {
    const slow = await slowServer(600)
    try {
      const awaiting = `export async function transformEvent(event) { await fetchV2(${JSON.stringify(slow.url)}); return event }`
      const limits = { memoryMb: 128, syncTimeoutMs: 200, timeoutMs: 5_000 }
      expect((await transformer.run(awaiting, one, {}, { limits })).results.map((result) => result.statusCode)).toEqual([200, 200])
      const tooLong = await transformer.run(awaiting, one, {}, { limits: { ...limits, timeoutMs: 300 } })
      expect(tooLong.results.map((result) => (result.statusCode === 400 ? result.error : result.statusCode))).toEqual(['Error: Timed out', 'Error: Timed out'])
    } finally {
      await slow.close()
    }
  })

  it('fails the batch when the synchronous start outlasts its limit', async () => {
    const busy = 'export function transformEvent(event) { const end = Date.now() + 1000; while (Date.now() < end); return event }'
    const report = await transformer.run(busy, one, {}, { limits: { memoryMb: 128, syncTimeoutMs: 200, timeoutMs: 5_000 } })
    expect(report.results.map((result) => result.statusCode === 400 && result.error)).toEqual(['Error: Script execution timed out.', 'Error: Script execution timed out.'])
  })

  it("keeps an error's stack up to transformEvent's last frame: the first line only when it was raised after its frame left", async () => {
    const later = `
      const fail = async () => { await null; throw new Error('first line\\nsecond line') }
      export function transformEvent(event) { return fail() }`
    const report = await transformer.run(later, one.slice(0, 1), {})
    expect(report.results).toEqual([{ statusCode: 400, error: 'Error: first line', metadata: one[0].metadata }])
  })

  it('a thrown value that is not an Error fails the whole batch (the stack cut throws), so pqlkit never throws one', async () => {
    const report = await transformer.run("export async function transformEvent(event) { if (event.messageId === 'm1') throw 'boom'; return event }", one, {})
    expect(report.results.map((result) => result.statusCode === 400 && result.error)).toEqual([
      "Error: Cannot read properties of undefined (reading 'split')",
      "Error: Cannot read properties of undefined (reading 'split')"
    ])
  })
})
