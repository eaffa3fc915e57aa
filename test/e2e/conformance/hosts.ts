import { createTestIntegration, defaultValues, JSONObject, SegmentEvent } from '@segment/actions-core'
import destination from '@pqlkit/segment-destination'
import {
  createPipeline,
  DefaultHandoffSender,
  httpsPostJson,
  loadModel,
  Mapping,
  officialHubSpotApi,
  ProductEvent,
  segmentMessageToProductEvent,
  Transport,
  ValidationError,
  withMappings
} from '@pqlkit/core'
import { parse } from 'yaml'
import type { Emulator } from '../../harness/hubspot-emulator'
import type { Message } from './scenarios'
import { buildBundles } from '../../../destinations/rudderstack/scripts/build'
import { processorEvent, transformAndDeliver } from '../../harness/rudderstack/data-plane'
import type { DestinationReport } from '../../harness/rudderstack/hubspot-destination'
import type { RunReport } from '../../harness/rudderstack/sandbox'
import { startEgress } from '../../harness/rudderstack/egress'
import { pasted } from '../../harness/rudderstack/transformation'
import { startTransformer } from '../../harness/rudderstack/transformer'
import { posthogPluginHost } from './posthog-hosts'
import { pastedFunction } from '../../harness/segment-function/function'
import { DEFAULT_BATCH, loadFunction, segmentVerdicts } from '../../harness/segment-function/runtime'

/** What a host run needs: a fresh emulator, the model text, the evaluation time, the host's batch size. */
export type Delivery = { emulator: Emulator; model: string; now: number; batchSize: number; mappings?: Mapping[] }
export type DeliveryReport = {
  rounds: number
  redelivered: number
  invalid: string[]
  /** What the host shows besides the events' outcomes (RudderStack: the problems on the returned identifies). */
  logs?: string[]
  /** The contacts (emails) whose write the host's own HubSpot destination reported failed, once per failure. */
  failedWrites?: string[]
}

/**
 * A host as its users run it, fed the scenario's Segment-spec messages in its own batches,
 * re-delivering what it is told to retry the way that host does, until nothing is left.
 */
export type Host = {
  name: string
  deliver(messages: Message[], delivery: Delivery): Promise<DeliveryReport>
  /** SPEC §6: the host's own HubSpot destination creates contacts after pqlkit ran (see `withDeferredPutBack`). */
  destinationCreatesContacts?: boolean
}

const MAX_ROUNDS = 40
export const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 40 }

function batchesOf<T>(items: T[], size: number): T[][] {
  const result: T[][] = []
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size))
  return result
}

/** Re-delivers the records `send` reports retryable until none are left (or MAX_ROUNDS). */
export async function untilDone(
  messages: Message[],
  batchSize: number,
  send: (batch: Message[]) => Promise<('ok' | 'retry' | string)[]>
): Promise<DeliveryReport> {
  const report: DeliveryReport = { rounds: 0, redelivered: 0, invalid: [] }
  let pending = messages
  while (pending.length > 0 && report.rounds < MAX_ROUNDS) {
    report.rounds++
    const retry: Message[] = []
    for (const batch of batchesOf(pending, batchSize)) {
      const outcomes = await send(batch)
      batch.forEach((message, index) => {
        if (outcomes[index] === 'retry') retry.push(message)
        else if (outcomes[index] !== 'ok') report.invalid.push(`${message.messageId}: ${outcomes[index]}`)
      })
    }
    report.redelivered += retry.length
    pending = retry
  }
  if (pending.length > 0) throw new Error(`${pending.length} messages still retryable after ${MAX_ROUNDS} rounds`)
  return report
}

/** `pqlkit sync`: the core pipeline on the official client; retryable records go again with the next run. */
export const cliHost: Host = {
  name: 'pqlkit sync (CLI)',
  async deliver(messages, { emulator, model, now, batchSize, mappings = [] }) {
    const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(undefined, FAST_RETRY))
    const sender = new DefaultHandoffSender({ post: httpsPostJson, api, portalId: 123456, now: () => now })
    const sync = createPipeline({ api, model: loadModel(model, 'model', mappings), handoffs: sender })
    return untilDone(messages, batchSize, async (batch) => {
      // As `pqlkit sync` reads its file: a message that is no Segment call is that line's error.
      const outcomes: string[] = []
      const events: ProductEvent[] = []
      const at: number[] = []
      batch.forEach((message, index) => {
        try {
          events.push(segmentMessageToProductEvent(message))
          at.push(index)
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error
          outcomes[index] = error.message
        }
      })
      const report = await sync.process(events, now)
      report.results.forEach((result, i) => {
        outcomes[at[i]] = result.status === 'ok' ? 'ok' : result.status === 'retryable' ? 'retry' : result.message
      })
      return outcomes
    })
  }
}

/** A mapping as RevOps saves it in Segment: a Map Event to Property subscription, its trigger from the builder, the other fields at their defaults. */
export function segmentSubscription(mapping: Mapping) {
  const events = typeof mapping.event === 'string' ? [mapping.event] : mapping.event
  const names = events.map((event) => `event = ${JSON.stringify(event)}`)
  const subscribe = events.includes('*') ? 'type = "track"' : `type = "track" and ${names.length === 1 ? names[0] : `(${names.join(' or ')})`}`
  const fields = destination.actions.mapEventToProperty.fields
  const { property, object, aggregation, window, value } = mapping
  return {
    partnerAction: 'mapEventToProperty',
    subscribe,
    mapping: {
      ...defaultValues(fields),
      property,
      object,
      aggregation,
      ...(window ? { window } : {}),
      ...(value ? { value: { '@path': `$.properties.${value}` } } : {})
    } as JSONObject
  }
}

/** The subscriptions a Segment user sets up: the destination's automatic presets, and a Map Event to Property subscription per mapping. */
export function segmentSubscriptions(mappings: Mapping[] = []) {
  return [
    ...destination.presets!.flatMap((preset) =>
      preset.type === 'automatic' ? [{ partnerAction: preset.partnerAction, subscribe: preset.subscribe, mapping: preset.mapping ?? {} }] : []
    ),
    ...mappings.map(segmentSubscription)
  ]
}

/** What `onBatch` answers: one result per subscription, a multistatus or `not subscribed` when no event matched it. */
export type SegmentBatchResults = { multistatus?: { status: number; errormessage?: string }[] }[]

/** Each message's outcome as Segment reads `onBatch`'s answer: re-delivered when a subscription answered 429 or 5xx. */
export function segmentOutcomes(batch: Message[], results: SegmentBatchResults): string[] {
  return batch.map((_, index) => {
    const entries = results
      .map((result) => result.multistatus?.[index])
      .filter((candidate) => candidate && !/does not match the subscription/.test(candidate.errormessage ?? '')) as { status: number; errormessage?: string }[]
    if (entries.length === 0) return 'no action subscribed'
    if (entries.some((entry) => entry.status === 429 || entry.status >= 500)) return 'retry'
    const failed = entries.find((entry) => entry.status !== 200)
    return failed ? (failed.errormessage ?? String(failed.status)) : 'ok'
  })
}

/**
 * The Segment destination in actions-core's runtime: `onBatch` with the presets, and a Map
 * Event to Property subscription per mapping, as subscriptions; Segment re-delivers the
 * records a subscription answered 429 or 5xx (a message goes to every subscription it matches).
 * The destination evaluates at the wall clock: callers freeze Date at `now`.
 */
export const segmentHost: Host = {
  name: 'Segment destination',
  async deliver(messages, { emulator, model, batchSize, mappings = [] }) {
    process.env.HUBSPOT_BASE_URL = emulator.url
    const testDestination = createTestIntegration(destination)
    const settings = { accessToken: emulator.accessToken, model, subscriptions: segmentSubscriptions(mappings) }
    try {
      return await untilDone(messages, batchSize, async (batch) =>
        segmentOutcomes(batch, (await testDestination.onBatch(batch as unknown as SegmentEvent[], settings)) as SegmentBatchResults)
      )
    } finally {
      delete process.env.HUBSPOT_BASE_URL
    }
  }
}

/** RudderStack's processor hands a transformation at most 200 events at a time. */
export const PROCESSOR_BATCH = 200
/** How the transformation words a failure to send again (destinations/rudderstack/src/transform-event.ts). */
const SEND_AGAIN = /^Error: pqlkit: HubSpot could not take this (event|batch) /
let builtTransformation: Promise<string> | undefined

/** A transformation as a RudderStack user connects it: the built file with the model pasted in, the transformer process, the egress for its Slack posts. */
export type RudderStackConnection = DataPlaneConnection & { stop(): Promise<void> }
type DataPlaneConnection = Parameters<typeof transformAndDeliver>[0]

export async function connectTransformation({ emulator, model, now, mappings = [] }: Delivery): Promise<RudderStackConnection> {
  builtTransformation ??= buildBundles(undefined).then((bundles) => bundles.transformation)
  const settings = { hubspotBaseUrl: emulator.url, portalId: 123456, slackHosts: ['hooks.slack.com'] }
  // A transformation has no mapping UI: the mappings go into the pasted model (docs/mappings.md).
  const code = pasted(withMappings(parse(model), mappings), settings, await builtTransformation)
  const transformer = startTransformer()
  const egress = await startEgress()
  return {
    transformer,
    code,
    credentials: { HUBSPOT_ACCESS_TOKEN: emulator.accessToken },
    hubspot: { url: emulator.url, accessToken: emulator.accessToken },
    run: { now, egress: egress.url },
    stop: async () => {
      await transformer.stop()
      await egress.stop()
    }
  }
}

/**
 * What the user replays of a batch, as RudderStack re-sends no event a transformation failed
 * and no record a 207 aborted: the events failed as retryable, and those that succeeded in a
 * batch whose identifies were not all delivered (a failed identify names only its contact's
 * last event). Any other failure is the event's error.
 */
export function rudderstackOutcomes(batch: Message[], run: RunReport, destination: DestinationReport): string[] {
  const outcomes = new Map<unknown, string>()
  for (const result of run.results) {
    outcomes.set(result.metadata.messageId, result.statusCode !== 400 ? 'ok' : SEND_AGAIN.test(result.error) ? 'retry' : result.error)
  }
  const replay = destination.undelivered.length > 0
  return batch.map((message) => {
    const outcome = outcomes.get(message.messageId) ?? 'the transformer gave this event no outcome'
    return replay && outcome === 'ok' ? 'retry' : outcome
  })
}

/** What RudderStack shows in production of a batch: the problems on its returned identifies (`context.pqlkit.problems`). */
export const rudderstackProblems = (run: RunReport) =>
  run.results.flatMap((result) => (result.statusCode === 200 ? ((result.output.context as { pqlkit?: { problems: string[] } }).pqlkit?.problems ?? []) : []))

/** The contacts (emails) whose identify the HubSpot destination reported failed. */
export const failedWrites = (destination: DestinationReport) => destination.undelivered.map(({ identify }) => String((identify.traits as Record<string, unknown>).email))

/**
 * The RudderStack transformation as rudder-transformer runs it (test/harness/rudderstack): the built
 * file with the model pasted in, each batch (at most the processor's 200) in a fresh isolate
 * whose clock stands at `now`, its identifies delivered by the HubSpot destination with the
 * router's retries (`deliverIdentifies`), its Slack posts made through the egress, what the
 * user replays (`rudderstackOutcomes`) going again from the source's events (pqlkit skips what
 * HubSpot already holds).
 */
export const rudderstackHost: Host = {
  name: 'RudderStack transformation',
  destinationCreatesContacts: true,
  async deliver(messages, delivery) {
    const connection = await connectTransformation(delivery)
    const logs: string[] = []
    const failed: string[] = []
    let jobId = 0
    try {
      const report = await untilDone(messages, Math.min(delivery.batchSize, PROCESSOR_BATCH), async (batch) => {
        const events = batch.map((message) => processorEvent(message as unknown as Record<string, unknown>, ++jobId))
        const { report: run, destination } = await transformAndDeliver(connection, events)
        logs.push(...rudderstackProblems(run))
        failed.push(...failedWrites(destination))
        return rudderstackOutcomes(batch, run, destination)
      })
      return { ...report, logs, failedWrites: failed }
    } finally {
      await connection.stop()
    }
  }
}

/** Segment's backoff between a Function's retries, scaled down from minutes: HubSpot's window rolls meanwhile. */
const FUNCTION_BACKOFF_MS = 25

/**
 * The Segment Destination Function in the stand-in of the Functions runtime
 * (test/harness/segment-function): the built script with the model pasted in (mappings into
 * the model, as a Function has no mapping UI), `onBatch` in Segment's batches (at most 20),
 * Date standing at `now`; Segment retries what a RetryError, a timeout or a 5xx status left,
 * after a backoff. Still retryable after every round, the last error is what Segment shows.
 */
export const segmentFunctionHost: Host = {
  name: 'Segment Destination Function',
  async deliver(messages, { emulator, model, now, batchSize, mappings = [] }) {
    const fn = loadFunction(await pastedFunction(withMappings(parse(model), mappings)), { now })
    const settings = { hubspotAccessToken: emulator.accessToken, hubspotBaseUrl: emulator.url, portalId: '123456' }
    let lastRetry = ''
    try {
      const report = await untilDone(messages, Math.min(batchSize, DEFAULT_BATCH), async (batch) => {
        const outcome = await fn.invoke('onBatch', batch, settings)
        const verdicts = segmentVerdicts(outcome, batch.length)
        if (verdicts.includes('retry')) {
          lastRetry = outcome.kind === 'error' ? outcome.message : outcome.kind
          await new Promise((resolve) => setTimeout(resolve, FUNCTION_BACKOFF_MS))
        }
        return verdicts
      })
      return { ...report, logs: fn.logs }
    } catch (error) {
      throw new Error(`${(error as Error).message}; Segment shows: ${lastRetry}`)
    }
  }
}

export const HOSTS: Host[] = [cliHost, segmentHost, rudderstackHost, posthogPluginHost, segmentFunctionHost]
