import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '../../repo-root'

/** The built transformation (`dist/transformation.js` unless given) with a model and settings pasted into its top, as a user does. */
export function pasted(
  model: unknown,
  settings: Record<string, unknown>,
  built = readFileSync(join(REPO_ROOT, 'destinations/rudderstack/dist/transformation.js'), 'utf8')
): string {
  const withModel = built.replace(/const PQLKIT_MODEL = [\s\S]*?\n};\n/, () => `const PQLKIT_MODEL = ${JSON.stringify(model, null, 2)};\n`)
  const withSettings = withModel.replace(/const PQLKIT_SETTINGS = [\s\S]*?\n};\n/, () => `const PQLKIT_SETTINGS = ${JSON.stringify(settings, null, 2)};\n`)
  if (withSettings === built || !withSettings.includes('"hubspotBaseUrl"')) throw new Error('the built file has no model or settings block to paste into')
  return withSettings
}
