import { Meta, Plugin, ProcessedPluginEvent, RetryError } from '@posthog/plugin-scaffold'
import {
  checkWebhook,
  createPipeline,
  describeIncompatible,
  FetchLike,
  formatIssue,
  HandoffError,
  HubSpotApi,
  HubSpotRequestError,
  loadMappings,
  loadModel,
  Model,
  ModelError,
  PostHogHost,
  RetryPolicy,
  Transport
} from '@pqlkit/core/portable'

/** The plugin's settings, as plugin.json declares them (PostHog hands every value over as a string). */
export type PluginConfig = {
  hubspotAccessToken?: string
  model?: string | Record<string, unknown>
  mappings?: string | unknown[]
  groupType?: string
  portalId?: string
  slackWebhook?: string
  hubspotBaseUrl?: string
}

export type PluginGlobal = { host: PostHogHost }

export type PqlkitPlugin = Plugin<{ config: PluginConfig; global: PluginGlobal }>
export type PqlkitMeta = Meta<{ config: PluginConfig; global: PluginGlobal }>

/**
 * The plugin server gives an event about 30 s. A 429 can mean waiting out HubSpot's 10 s
 * window, so a call is tried three times at most (two waits): a HubSpot outage or 429 storm
 * becomes a RetryError within the limit, and PostHog delivers the event again later. Fewer
 * tries would hand more records back after their hand-offs went out, and a redelivery
 * repeats a hand-off whose mark was not written.
 */
export const PLUGIN_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 }

/** The sweep runs once per UTC day (windows and decay move in days); this key remembers the last one. */
export const LAST_SWEEP_KEY = 'pqlkit-last-sweep-day'

/** The plugin server's `fetch` (a global there, as in Node 20), narrowed to what pqlkit uses. */
function hostFetch(): FetchLike {
  const fetch = (globalThis as { fetch?: FetchLike }).fetch
  if (!fetch) throw new Error('pqlkit: this plugin server provides no fetch')
  return (url, init) => fetch(url, init)
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))

function modelFrom(value: PluginConfig['model'], mappingsValue: PluginConfig['mappings']): Model {
  if (value === undefined || value === '') throw new Error('pqlkit: the "PQL model (JSON)" setting is empty')
  try {
    const mappings = mappingsValue === undefined || mappingsValue === '' ? [] : loadMappings(asText(mappingsValue), 'mappings setting')
    return loadModel(asText(value), 'model setting', mappings)
  } catch (error) {
    if (!(error instanceof ModelError)) throw error
    const setting = error.source === 'model setting' ? 'PQL model' : 'mapped properties'
    const where = error.source === 'model setting' ? 'model' : 'mappings'
    throw new Error(`pqlkit: the ${setting} setting is invalid: ${error.issues.map((issue) => formatIssue(issue, where)).join('; ')}`)
  }
}

/** Checks the settings and the model; a bad model is a clear error (not a RetryError: retrying cannot fix it). */
export const setupPlugin: NonNullable<PqlkitPlugin['setupPlugin']> = (meta) => {
  const { config } = meta
  const token = config.hubspotAccessToken?.trim()
  if (!token) throw new Error('pqlkit: set the HubSpot private app access token')
  const model = modelFrom(config.model, config.mappings)
  const portalId = config.portalId?.trim() ? Number(config.portalId) : undefined
  if (portalId !== undefined && !Number.isSafeInteger(portalId)) throw new Error('pqlkit: the HubSpot portal id must be a number')
  const slackWebhook = config.slackWebhook?.trim() || undefined
  if (slackWebhook) {
    try {
      checkWebhook(slackWebhook)
    } catch (error) {
      if (!(error instanceof HandoffError)) throw error
      throw new Error(`pqlkit: the default Slack webhook setting: ${error.message}`)
    }
  }
  const fetch = hostFetch()
  const pipeline = createPipeline({
    model,
    api: new HubSpotApi({ accessToken: token, basePath: config.hubspotBaseUrl?.trim() || undefined }, new Transport(undefined, PLUGIN_RETRY), fetch),
    handoffs: {
      post: async (url, body) => ({ status: (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status }),
      portalId,
      defaultWebhook: slackWebhook,
      now: () => Date.now()
    }
  })
  meta.global.host = new PostHogHost(pipeline, { groupType: config.groupType?.trim() || 'company' })
  // Reconciles the portal at once: a property of an incompatible type is named in the plugin's
  // log before any event (every event's batch waits for this bootstrap).
  pipeline.bootstrap().then(
    ({ incompatible }) => incompatible.forEach((property) => console.warn(`pqlkit: ${describeIncompatible(property)}`)),
    () => undefined
  )
}

/** One event: transient HubSpot failures throw RetryError (PostHog delivers it again), bad events a plain error. */
export const onEvent: NonNullable<PqlkitPlugin['onEvent']> = async (event: ProcessedPluginEvent, meta) => {
  let outcome
  try {
    outcome = await meta.global.host.handle(event)
  } catch (error) {
    if (error instanceof HubSpotRequestError && (error.status === 401 || error.status === 403)) {
      throw new Error('pqlkit: HubSpot rejected the access token: check the private app token and its CRM scopes')
    }
    throw error
  }
  if (outcome.status === 'retryable') throw new RetryError(`pqlkit: ${outcome.message}`)
  if (outcome.status === 'invalid') throw new Error(`pqlkit: ${outcome.message}`)
}

/** The scheduled sweep (SPEC §4): hourly ticks, one sweep per UTC day, remembered in storage across restarts. */
export const runEveryHour: NonNullable<PqlkitPlugin['runEveryHour']> = async (meta) => {
  const now = Date.now()
  const day = new Date(now).toISOString().slice(0, 10)
  if ((await meta.storage.get(LAST_SWEEP_KEY, null)) === day) return
  const report = await meta.global.host.sweep(now)
  await meta.storage.set(LAST_SWEEP_KEY, day)
  console.log(`pqlkit sweep ${day}: ${report.examined} examined, ${report.changed} changed, ${report.handoffs.length} hand-offs`)
  for (const problem of report.problems) console.warn(`pqlkit sweep: ${problem}`)
}

/** Unloading: what is gathered goes to HubSpot before the plugin stops. */
export const teardownPlugin: NonNullable<PqlkitPlugin['teardownPlugin']> = async (meta) => {
  await meta.global.host?.drain()
}
