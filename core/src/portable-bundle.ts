/**
 * How a sandbox host bundles `@pqlkit/core/portable` with esbuild (RudderStack's
 * transformation, the PostHog plugin): one ES module with no import of the core left, built
 * from the core's TypeScript sources (the `source` export condition) so it tree-shakes.
 */
export const PORTABLE_BUNDLE: {
  bundle: true
  format: 'esm'
  platform: 'neutral'
  target: string
  mainFields: string[]
  conditions: string[]
  legalComments: 'none'
} = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  mainFields: ['module', 'main'],
  conditions: ['source'],
  legalComments: 'none'
}
