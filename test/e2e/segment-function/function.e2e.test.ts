import { generateEvents, loadModel, segmentMessageToProductEvent, simulate } from '@pqlkit/core'
import { Parser } from 'acorn'
import { analyze } from 'eslint-scope'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { SETTINGS } from '../../../destinations/segment-function/src/settings'
import { buildFunction } from '../../../destinations/segment-function/scripts/build'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { pastedFunction } from '../../harness/segment-function/function'
import { DEFAULT_BATCH, handlerFor, LARGEST_BATCH, loadFunction, LoadedFunction, segmentVerdicts } from '../../harness/segment-function/runtime'
import { fakeSlack, restoreFakes } from '../../harness/fakes'
import { REPO_ROOT } from '../../repo-root'
import { untilDone } from '../conformance/hosts'
import type { Message } from '../conformance/scenarios'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'

jest.setTimeout(120_000)

const MODEL_TEXT = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const MODEL = parse(MODEL_TEXT)
const NOW = Date.parse('2026-03-20T12:00:00.000Z')
/** What the language itself defines, so the bundle may name it freely. */
const LANGUAGE = new Set(Object.getOwnPropertyNames(globalThis).filter((name) => /^[A-Z]/.test(name) || ['globalThis', 'undefined', 'NaN', 'Infinity', 'isNaN', 'isFinite', 'parseInt', 'parseFloat', 'encodeURIComponent', 'decodeURIComponent', 'encodeURI', 'decodeURI', 'escape', 'unescape', 'queueMicrotask', 'structuredClone'].includes(name)))

/** Read only behind `typeof … !== "undefined"` (zod's environment checks): absent in Node 20, and harmless. */
const GUARDED = new Set(['navigator'])

let emulator: Emulator
let code: string

const settings = (): Record<string, string> => ({ hubspotAccessToken: emulator.accessToken, hubspotBaseUrl: emulator.url, portalId: '123456' })

/** A generated stream (40 users, 21 days up to NOW), as Segment delivers it. */
function stream(): Message[] {
  return generateEvents({ profile: 'project-management', users: 40, days: 21, end: new Date(NOW).toISOString(), seed: 11 }) as unknown as Message[]
}

/** Segment's backoff between retries, scaled down from minutes. */
const BACKOFF_MS = 200

/** Segment's delivery to `onBatch`: batches of `size`, each retried as Functions retry it (after a backoff), until done. */
function deliver(fn: LoadedFunction, messages: Message[], size: number) {
  return untilDone(messages, size, async (batch) => {
    const verdicts = segmentVerdicts(await fn.invoke('onBatch', batch, settings()), batch.length)
    if (verdicts.includes('retry')) await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS))
    return verdicts
  })
}

const slackPosts: string[] = []

beforeAll(async () => {
  fakeSlack(slackPosts)
  code = await pastedFunction(MODEL)
  emulator = await startEmulator({ rateLimit: { max: 10_000, intervalMs: 1_000 } })
})
afterAll(async () => {
  restoreFakes()
  await emulator.stop()
})
beforeEach(async () => {
  emulator.reset()
  emulator.setFaults(undefined)
  // The properties exist before events flow, as after `pqlkit bootstrap`.
  await loadFunction(code, { now: NOW }).invoke('onIdentify', { type: 'identify', messageId: 'boot', userId: 'boot', traits: { email: 'boot@example.com' }, timestamp: new Date(NOW).toISOString() }, settings())
  emulator.reset()
})

describe('the built Segment Destination Function', () => {
  it('is one script without import or require, naming only what the Functions runtime offers, its handlers at the top level', async () => {
    const built = await buildFunction(undefined)
    const ast = Parser.parse(built, { ecmaVersion: 2022, sourceType: 'script', ranges: true })
    expect(/\brequire\s*\(|\bimport\s*\(/.test(built)).toBe(false)
    const scope = analyze(ast, { ecmaVersion: 2022, sourceType: 'script' }).globalScope
    const offered = new Set(loadFunction('', {}).globals)
    const declared = new Set(scope.variables.map((variable) => variable.name))
    const free = [...new Set(scope.through.map((reference) => reference.identifier.name))].filter(
      (name) => !LANGUAGE.has(name) && !offered.has(name) && !declared.has(name) && !GUARDED.has(name)
    )
    expect(free).toEqual([])
    for (const handler of ['onTrack', 'onIdentify', 'onGroup', 'onBatch']) expect(declared.has(handler)).toBe(true)
  })

  it('declares its settings, the token and the Slack webhook sensitive', () => {
    expect(SETTINGS.map(({ name, sensitive, required }) => ({ name, sensitive, required }))).toEqual([
      { name: 'hubspotAccessToken', sensitive: true, required: true },
      { name: 'slackWebhook', sensitive: true, required: false },
      { name: 'portalId', sensitive: false, required: false },
      { name: 'hubspotBaseUrl', sensitive: false, required: false }
    ])
  })

  it('answers single events by handler: written, dropped with the reason, or not supported', async () => {
    const fn = loadFunction(code, { now: NOW })
    const at = new Date(NOW - 60_000).toISOString()
    const track = { type: 'track', messageId: 't1', event: 'Project Created', userId: 'u1', context: { traits: { email: 'ada@acme.io' } }, timestamp: at }
    expect(await fn.invoke(handlerFor(track), track, settings())).toEqual({ kind: 'ok', value: undefined })
    expect(emulator.dump().contacts.map((record) => record.properties.email)).toEqual(['ada@acme.io'])
    const anonymous = { ...track, messageId: 't2', userId: undefined, context: {} }
    expect(await fn.invoke('onTrack', anonymous, settings())).toEqual({ kind: 'error', name: 'ValidationError', message: expect.stringMatching(/^pqlkit: email: the event has no identity/) })
    expect(await fn.invoke('onBatch', ['not an event', track], settings())).toEqual({
      kind: 'ok',
      value: [{ status: 400, errormessage: 'pqlkit: message: is not a JSON object' }, { status: 200 }]
    })
    expect(await fn.invoke('onTrack', 'not an event', settings())).toMatchObject({ kind: 'error', name: 'InvalidEventPayload' })
    expect(await fn.invoke('onPage', { type: 'page', messageId: 'p1' }, settings())).toMatchObject({ kind: 'error', name: 'EventNotSupported' })
  })

  it('a broken model or a missing token is a RetryError naming what to fix (Segment retries while it is fixed), never a drop', async () => {
    const broken = loadFunction(await pastedFunction({ ...MODEL, version: 2 }), { now: NOW })
    const track = { type: 'track', messageId: 't1', event: 'Project Created', userId: 'u1', timestamp: new Date(NOW).toISOString() }
    expect(await broken.invoke('onTrack', track, settings())).toEqual({ kind: 'error', name: 'RetryError', message: expect.stringMatching(/^pqlkit: fix PQLKIT_MODEL .*version/) })
    const fn = loadFunction(code, { now: NOW })
    expect(await fn.invoke('onBatch', [track], { hubspotBaseUrl: emulator.url })).toEqual({ kind: 'error', name: 'RetryError', message: expect.stringContaining('hubspotAccessToken') })
  })

  it.each([DEFAULT_BATCH, LARGEST_BATCH])('batches of %i: a status per event, and HubSpot ends up holding what simulate computes', async (size) => {
    const messages = stream()
    const fn = loadFunction(code, { now: NOW })
    const first = await fn.invoke('onBatch', messages.slice(0, size), settings())
    expect(first).toMatchObject({ kind: 'ok' })
    expect((first as { value: unknown[] }).value).toHaveLength(size)
    const report = await deliver(fn, messages.slice(size), size)
    expect(report.invalid).toEqual([])
    const expected = simulate(loadModel(MODEL_TEXT), messages.map(segmentMessageToProductEvent), NOW)
    expect(differencesFromSimulate(snapshot(emulator), expected)).toEqual([])
  })

  it("throttling and outages are retried as Segment retries a Function (RetryError, 5xx statuses): the same state, nothing counted twice", async () => {
    const messages = stream().slice(0, 200)
    emulator.setFaults({ seed: 3, rate429: 0.2, rate5xx: 0.15, partialRate: 0.2 })
    const report = await deliver(loadFunction(code, { now: NOW }), messages, DEFAULT_BATCH)
    expect(report.redelivered).toBeGreaterThan(0)
    expect(report.invalid).toEqual([])
    emulator.setFaults(undefined)
    const expected = simulate(loadModel(MODEL_TEXT), messages.map(segmentMessageToProductEvent), NOW)
    expect(differencesFromSimulate(snapshot(emulator), expected)).toEqual([])
  })

  it('an invocation past the time limit is retried (scaled down here), and its events still count once', async () => {
    const messages = stream().slice(0, 60)
    // Every HubSpot call takes 120 ms: an invocation's reads and writes outlast a 200 ms limit.
    emulator.setFaults({ seed: 1, latencyMs: 120 })
    const slow = loadFunction(code, { now: NOW, timeoutMs: 200 })
    const outcome = await slow.invoke('onBatch', messages.slice(0, DEFAULT_BATCH), settings())
    expect(outcome).toEqual({ kind: 'timeout' })
    expect(segmentVerdicts(outcome, DEFAULT_BATCH)).toEqual(Array(DEFAULT_BATCH).fill('retry'))
    emulator.setFaults(undefined)
    const report = await deliver(loadFunction(code, { now: NOW }), messages, DEFAULT_BATCH)
    expect(report.invalid).toEqual([])
    const expected = simulate(loadModel(MODEL_TEXT), messages.map(segmentMessageToProductEvent), NOW)
    expect(differencesFromSimulate(snapshot(emulator), expected)).toEqual([])
  })

  it('a wait HubSpot asks for beyond what the 5 s allow is a RetryError at once, not a timeout', async () => {
    const messages = stream().slice(0, 5)
    const limited = await startEmulator({ rateLimit: { max: 1, intervalMs: 10_000 } })
    try {
      const fn = loadFunction(code, { now: NOW })
      const outcome = await fn.invoke('onBatch', messages, { ...settings(), hubspotAccessToken: limited.accessToken, hubspotBaseUrl: limited.url })
      expect(segmentVerdicts(outcome, messages.length)).toEqual(Array(messages.length).fill('retry'))
    } finally {
      await limited.stop()
    }
  })
})
