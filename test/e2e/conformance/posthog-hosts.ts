import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { parse } from 'yaml'
import * as plugin from '@pqlkit/posthog-plugin'
import { deliver, pluginMeta, setUpWithServerFetch } from '../../harness/posthog/plugin-server'
import { Host, untilDone } from './hosts'
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
