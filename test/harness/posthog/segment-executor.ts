import type { DestinationDefinition } from '@segment/actions-core'

/**
 * How PostHog's CDP runs a Segment Action Destination (PostHog/posthog
 * nodejs/src/cdp/segment/segment-templates.ts and services/segment-destination-executor.service.ts),
 * rebuilt from what it does:
 *
 * - A destination is offered when it has authentication fields and at least one `automatic`
 *   preset with a `subscribe` whose `partnerAction` is one of its actions; each such preset is
 *   a mapping template, its filter translated from the subscription, its fields' default
 *   mappings translated into PostHog templates over `event` and `person` (`$.userId` is
 *   `person.id`, `$.messageId` is `event.uuid`, traits are `person.properties`, …). Password
 *   fields, and fields named like a token, are secret inputs. Batching fields are dropped.
 * - Each matching event is one invocation: the preset's action's `perform` only (no
 *   `performBatch`, no OAuth refresh, no dynamic fields), called with the destination's and
 *   the mapping's inputs, resolved for the event, as both `payload` and `settings`.
 * - Retries: an invocation is tried again (later, up to `CDP_FETCH_RETRIES` times in all)
 *   only when a request made through the `request` it hands `perform` failed retriably before
 *   any non-GET request succeeded; any other error ends the invocation, logged, with no retry.
 */
export const CDP_FETCH_RETRIES = 3

export type PostHogGlobals = { event: { uuid: string; event: string; distinct_id: string; timestamp: string; properties: Record<string, unknown> }; person?: { id: string; properties: Record<string, unknown> } }

type Template = string | boolean | { extend: string } | Record<string, unknown>
export type MappingTemplate = { name: string; partnerAction: string; matches(event: PostHogGlobals['event']): boolean; inputs: Record<string, Template> }
export type PostHogDestination = { secretInputs: string[]; inputs: string[]; mappings: MappingTemplate[] }

const BATCHING = new Set(['use_batch_endpoint', 'batch_size', 'enable_batching'])
const SECRET_NAMES = new Set(['accesstoken', 'access-token', 'apikey', 'api_key', 'apitoken', 'apisecret', 'clientsecret', 'password', 'secretkey', 'secret', 'securitytoken'])
const STRUCTURAL = ['$pageview', '$screen', '$alias', '$identify', '$set', '$groupidentify']

/** A subscription's event types, as PostHog's filter for them. */
function filterOf(subscribe: string): (event: PostHogGlobals['event']) => boolean {
  const type = /^type = "?(\w+)"?$/.exec(subscribe.trim())?.[1]
  if (type === 'track') return (event) => !STRUCTURAL.includes(event.event)
  if (type === 'identify') return (event) => event.event === '$identify' || event.event === '$set'
  if (type === 'group') return (event) => event.event === '$groupidentify'
  if (type === 'page') return (event) => event.event === '$pageview'
  throw new Error(`PostHog translates no filter for ${subscribe}`)
}

/** A Segment path as PostHog rewrites it over its globals ('' when PostHog has no counterpart). */
function pathOf(segmentPath: string): string {
  const path = segmentPath.replace(/^\$\./, 'event.')
  const rewrites: [string, string][] = [
    ['event.context.traits', 'person.properties'],
    ['event.traits', 'person.properties'],
    ['event.userId', 'person.id'],
    ['event.messageId', 'event.uuid'],
    ['event.anonymousId', 'event.distinct_id'],
    ['event.groupId', 'event.properties.$group_0'],
    ['event.context.groupId', ''],
    ['event.event', 'event.event']
  ]
  for (const [from, to] of rewrites) if (path === from || path.startsWith(`${from}.`)) return to === '' ? '' : to + path.slice(from.length)
  return path
}

/** A field's default mapping as a PostHog template: `{a}` or `{a ?? b}`; objects extend from a path. */
function templateOf(value: unknown, type: string | undefined): Template | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value !== 'object' || value === null) return undefined
  const mapping = value as { '@path'?: string; '@if'?: { exists?: unknown; then?: unknown; else?: unknown } }
  if (mapping['@path'] !== undefined) {
    const path = pathOf(mapping['@path'])
    if (path === '') return ''
    return type === 'object' ? { extend: `{${path}}` } : `{${path}}`
  }
  const condition = mapping['@if']
  if (condition && JSON.stringify(condition.exists) === JSON.stringify(condition.then)) {
    const first = (condition.then as { '@path'?: string })['@path']
    const fallback = (condition.else as { '@path'?: string } | undefined)?.['@path']
    const paths = [first, fallback].filter((path): path is string => path !== undefined).map(pathOf).filter((path) => path !== '')
    return paths.length === 0 ? '' : `{${paths.join(' ?? ')}}`
  }
  return undefined
}

/** The PostHog destination a Segment destination definition becomes, or undefined when PostHog would not offer it. */
export function asPostHogDestination(destination: DestinationDefinition<any>): PostHogDestination | undefined {
  const auth = Object.entries(destination.authentication?.fields ?? {})
  const presets = (destination.presets ?? []).flatMap((preset) =>
    preset.type === 'automatic' && preset.subscribe && preset.partnerAction in destination.actions ? [preset] : []
  )
  if (auth.length === 0 || presets.length === 0) return undefined
  return {
    inputs: auth.map(([key]) => key),
    secretInputs: auth.filter(([key, field]) => field.type === 'password' || SECRET_NAMES.has(key.toLowerCase())).map(([key]) => key),
    mappings: presets.map((preset) => {
      const fields = destination.actions[preset.partnerAction].fields
      const inputs: Record<string, Template> = {}
      for (const [key, field] of Object.entries(fields)) {
        if (BATCHING.has(key)) continue
        const template = templateOf((preset.mapping as Record<string, unknown> | undefined)?.[key] ?? field.default, field.type)
        if (template !== undefined) inputs[key] = template
      }
      return { name: preset.name ?? preset.partnerAction, partnerAction: preset.partnerAction, matches: filterOf(preset.subscribe!), inputs }
    })
  }
}

/** Reads `a.b.c` from the globals. */
function read(globals: PostHogGlobals, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), globals)
}

/** A template's value for an event (`{a ?? b}`: the first that is neither null nor undefined). */
function resolve(template: Template, globals: PostHogGlobals): unknown {
  if (typeof template === 'boolean') return template
  if (typeof template === 'string') {
    const expression = /^\{(.+)\}$/.exec(template)?.[1]
    if (expression === undefined) return template
    for (const path of expression.split('??').map((part) => part.trim())) {
      const value = read(globals, path)
      if (value !== undefined && value !== null) return value
    }
    return null
  }
  if ('extend' in template) return resolve(template.extend as string, globals) ?? {}
  return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, resolve(value as Template, globals)]))
}

/** What a mapping's inputs resolve to for an event: the action's payload. */
export function payloadFor(mapping: MappingTemplate, globals: PostHogGlobals): Record<string, unknown> {
  return resolve(mapping.inputs, globals) as Record<string, unknown>
}

export type Invocation = { mapping: string; tries: number; error?: string }

/**
 * Runs every matching mapping's action for one event as PostHog's executor does, retrying an
 * invocation only as it would. `request` is PostHog's: a fetch whose failure before any
 * successful non-GET request makes the invocation retriable.
 */
export async function executeEvent(
  destination: DestinationDefinition<any>,
  posthog: PostHogDestination,
  inputs: Record<string, unknown>,
  globals: PostHogGlobals
): Promise<Invocation[]> {
  const invocations: Invocation[] = []
  for (const mapping of posthog.mappings.filter((candidate) => candidate.matches(globals.event))) {
    const config: Record<string, unknown> = { ...inputs, ...payloadFor(mapping, globals), internal_partner_action: mapping.partnerAction }
    const action = destination.actions[mapping.partnerAction]
    for (let tries = 1; ; tries++) {
      let retriesPossible = true
      let retriable = false
      const request = async (url: string, options: { method?: string; json?: unknown; headers?: Record<string, string>; body?: string } = {}) => {
        const method = (options.method ?? 'GET').toUpperCase()
        const headers = { ...options.headers, ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}) }
        const response = await fetch(url, { method, headers, body: options.json !== undefined ? JSON.stringify(options.json) : options.body }).catch(() => undefined)
        if (!response || response.status >= 400) {
          retriable = retriesPossible && (!response || response.status === 429 || response.status >= 500) && tries < CDP_FETCH_RETRIES
          throw new Error(`Request failed with status ${response?.status}`)
        }
        if (method !== 'GET') retriesPossible = false
        return response
      }
      try {
        await action.perform(request as never, { payload: config, settings: config } as never)
        invocations.push({ mapping: mapping.name, tries })
        break
      } catch (error) {
        if (retriable) continue
        invocations.push({ mapping: mapping.name, tries, error: (error as Error).message })
        break
      }
    }
  }
  return invocations
}
