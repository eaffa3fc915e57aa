import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { parse } from 'yaml'
import { createPipeline, DefaultHandoffSender, httpsPostJson, loadModel, officialHubSpotApi, PostHogHost, Transport } from '@pqlkit/core'
import { SECRET_HEADER, SERVE_PATH, startServer } from '@pqlkit/core'
import * as plugin from '@pqlkit/posthog-plugin'
import { deliver, pluginMeta, setUpWithServerFetch } from '../../harness/posthog/plugin-server'
import { FAST_RETRY, Host, untilDone } from './hosts'
import type { Message } from './scenarios'

type Fields = Record<string, unknown>
const record = (value: unknown): Fields => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : {})

/**
 * A scenario's Segment-spec message as PostHog holds the same call: identify as `$identify`
 * with `$set`, group as `$groupidentify` with `$group_set`, track as the event with
 * `$groups` (on identifies too, as posthog-js sends them); the email on the person; no userId
 * makes an anonymous distinct id.
 */
export function toPostHogEvent(message: Message): ProcessedPluginEvent {
  const fields = message as unknown as Fields
  const context = record(fields.context)
  const traits = record(fields.traits)
  const email = [traits.email, record(context.traits).email, record(fields.properties).email].find((value) => typeof value === 'string')
  const groupId = fields.groupId ?? context.groupId
  const anonymous = typeof fields.userId !== 'string'
  const base = anonymous ? { $is_identified: false } : {}
  const name = fields.type === 'identify' ? '$identify' : fields.type === 'group' ? '$groupidentify' : fields.event
  const groups = groupId === undefined ? {} : { $groups: { company: groupId } }
  const properties =
    fields.type === 'identify'
      ? { ...base, $set: traits, ...groups }
      : fields.type === 'group'
        ? { ...base, $group_type: 'company', $group_key: groupId, $group_set: traits }
        : { ...base, ...record(fields.properties), ...groups }
  return {
    distinct_id: anonymous ? `anon-${String(fields.messageId)}` : (fields.userId as string),
    ip: null,
    team_id: 1,
    event: name as string,
    properties,
    timestamp: fields.timestamp as string,
    uuid: fields.messageId as string,
    person: { uuid: 'person', team_id: 1, properties: email === undefined ? {} : { email }, created_at: '2026-01-01T00:00:00Z' }
  }
}

/**
 * The PostHog plugin as the plugin server runs it (test/harness/posthog): `setupPlugin` with the
 * server's fetch, each batch's `onEvent` calls at once, RetryError offered again up to the
 * server's attempts; what is still retryable goes again in the next round. Callers freeze
 * Date at `now` (the plugin evaluates at the wall clock).
 */
export const posthogPluginHost: Host = {
  name: 'PostHog plugin',
  async deliver(messages, { emulator, model, batchSize, mappings }) {
    const meta = pluginMeta({
      hubspotAccessToken: emulator.accessToken,
      model: JSON.stringify(parse(model)),
      // The "Mapped properties (JSON)" input, as PostHog hands a json input over: its text.
      ...(mappings ? { mappings: JSON.stringify(mappings) } : {}),
      hubspotBaseUrl: emulator.url,
      portalId: '123456'
    })
    setUpWithServerFetch(meta)
    try {
      return await untilDone(messages, batchSize, async (batch) => {
        const deliveries = await deliver(batch.map(toPostHogEvent), meta, 5)
        return deliveries.map(({ error }) => (error === undefined ? 'ok' : error.startsWith('RetryError') ? 'retry' : error))
      })
    } finally {
      await plugin.teardownPlugin!(meta)
    }
  }
}

/**
 * `pqlkit serve` over HTTP, each batch one request of webhook bodies; PostHog sends a request
 * answered 503 again (its events already applied are deduplicated).
 */
export const posthogServeHost: Host = {
  name: 'pqlkit serve (PostHog webhook)',
  async deliver(messages, { emulator, model, now, batchSize, mappings = [] }) {
    // As `pqlkit serve --model M --mappings F` reads them.
    const compiled = loadModel(model, 'model', mappings)
    const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport(undefined, FAST_RETRY))
    const sender = new DefaultHandoffSender({ post: httpsPostJson, api, portalId: 123456, now: () => now })
    const secret = 'conformance-secret-0123456789'
    const running = await startServer({ host: new PostHogHost(createPipeline({ api, model: compiled, handoffs: sender }), { now: () => now }), secret, port: 0 })
    try {
      return await untilDone(messages, Math.min(batchSize, 1000), async (batch) => {
        const bodies = batch.map((message) => {
          const { person, ...event } = toPostHogEvent(message)
          return { event, person: { properties: person?.properties }, groups: {} }
        })
        const answer = await fetch(`${running.url}${SERVE_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SECRET_HEADER]: secret },
          body: JSON.stringify(bodies)
        })
        const { results } = (await answer.json()) as { results: { status: string; error?: string }[] }
        return results.map((result) =>
          result.status === 'invalid' ? result.error! : answer.status === 503 ? 'retry' : 'ok'
        )
      })
    } finally {
      await running.close()
    }
  }
}
