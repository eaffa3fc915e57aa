import { parse } from 'acorn'
import { transform } from 'esbuild'
import * as scaffold from '@posthog/plugin-scaffold'
import { buildPlugin, HOST_MODULES, PluginFiles } from '@pqlkit/posthog-plugin/scripts/build'
import type { PqlkitPlugin } from '@pqlkit/posthog-plugin'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { pluginMeta } from '../../harness/posthog/plugin-server'

/** The plugin as PostHog installs it: `plugin.json` and the bundled `index.js`. */
let files: PluginFiles
let emulator: Emulator
beforeAll(async () => {
  files = await buildPlugin(undefined)
  emulator = await startEmulator({ rateLimit: { max: 100_000, intervalMs: 10_000 } })
}, 60_000)
afterAll(() => emulator.stop())

type Node = { type: string; source?: { value: string }; name?: string }

function walk(node: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(node)) return node.forEach((child) => walk(child, visit))
  if (!node || typeof node !== 'object') return
  if (typeof (node as Node).type === 'string') visit(node as Node)
  for (const value of Object.values(node)) if (value && typeof value === 'object') walk(value, visit)
}

/**
 * Loads the bundle as the plugin server does: its imports turned into calls of a `require` that
 * knows only the modules the server provides, in a function scope with the server's globals.
 */
async function load(code: string): Promise<PqlkitPlugin> {
  const { code: commonjs } = await transform(code, { format: 'cjs', loader: 'js', target: 'es2020' })
  const module = { exports: {} as PqlkitPlugin }
  const provided = (name: string) => {
    if (name === '@posthog/plugin-scaffold') return scaffold
    throw new Error(`the plugin server does not provide ${name}`)
  }
  new Function('require', 'module', 'exports', commonjs)(provided, module, module.exports)
  return module.exports
}

describe('the built PostHog plugin', () => {
  it('declares its settings as PostHog shows them: the token and the webhook secret, the model as JSON', () => {
    const manifest = JSON.parse(files['plugin.json']) as { main: string; config: { key: string; type: string; secret?: boolean; required?: boolean }[] }
    expect(manifest.main).toBe('index.js')
    const byKey = Object.fromEntries(manifest.config.map((entry) => [entry.key, entry]))
    expect(byKey.hubspotAccessToken).toMatchObject({ type: 'string', secret: true, required: true })
    expect(byKey.model).toMatchObject({ type: 'json', required: true })
    expect(byKey.slackWebhook).toMatchObject({ secret: true, required: false })
    expect(byKey.mappings).toMatchObject({ type: 'json', required: false })
    expect(Object.keys(byKey).sort()).toEqual(['groupType', 'hubspotAccessToken', 'hubspotBaseUrl', 'mappings', 'model', 'portalId', 'slackWebhook'])
  })

  it('imports nothing but what the plugin server provides', () => {
    const imports: string[] = []
    let dynamic = 0
    walk(parse(files['index.js'], { ecmaVersion: 2022, sourceType: 'module' }), (node) => {
      if (node.type === 'ImportDeclaration' || node.type === 'ExportAllDeclaration') imports.push(node.source!.value)
      if (node.type === 'ImportExpression' || (node.type === 'Identifier' && node.name === 'require')) dynamic++
    })
    expect(imports).toEqual(HOST_MODULES)
    expect(dynamic).toBe(0)
  })

  it('runs: setup, an event into HubSpot, a bad model refused', async () => {
    const plugin = await load(files['index.js'])
    expect(Object.keys(plugin).sort()).toEqual(expect.arrayContaining(['onEvent', 'runEveryHour', 'setupPlugin', 'teardownPlugin']))
    const model = JSON.stringify({
      version: 1,
      name: 'bundle',
      signals: { projects: { count: 'Project Created' } },
      scores: [{ property: 'pql_score', rules: [{ label: 'Projects', per: 'projects', every: 1, points: 10 }] }]
    })
    const meta = pluginMeta({ hubspotAccessToken: emulator.accessToken, model, hubspotBaseUrl: emulator.url })
    plugin.setupPlugin!(meta)
    await plugin.onEvent!(
      {
        distinct_id: 'u1',
        ip: null,
        team_id: 1,
        event: 'Project Created',
        properties: {},
        timestamp: new Date(Date.now() - 60_000).toISOString(),
        uuid: 'bundle-event-1',
        person: { uuid: 'p1', team_id: 1, properties: { email: 'bundle@example.com' }, created_at: '2026-01-01T00:00:00Z' }
      },
      meta
    )
    const stored = (emulator.dump() as { contacts: { properties: Record<string, string> }[] }).contacts
    expect(stored.map((record) => [record.properties.email, record.properties.pql_score])).toEqual([['bundle@example.com', '10']])
    expect(() => plugin.setupPlugin!(pluginMeta({ hubspotAccessToken: 't', model: '{"version": 2}' }))).toThrow(/^pqlkit: the PQL model setting is invalid: /)
  })
})
