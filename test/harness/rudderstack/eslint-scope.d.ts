/** The part of eslint-scope (no published types for 8.x) the bundle checks use. */
declare module 'eslint-scope' {
  type Reference = { identifier: { name: string } }
  export function analyze(
    ast: unknown,
    options: { ecmaVersion: number; sourceType: 'module' | 'script' }
  ): { globalScope: { through: Reference[]; variables: { name: string }[] } }
}
