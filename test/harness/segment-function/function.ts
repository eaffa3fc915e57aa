import { buildFunction } from '../../../destinations/segment-function/scripts/build'

let built: Promise<string> | undefined

/** The built Function (`dist/function.js` as the build makes it), once per process. */
export function builtFunction(): Promise<string> {
  built ??= buildFunction(undefined)
  return built
}

/** The built Function with a model pasted into its top, as a user does. */
export async function pastedFunction(model: unknown): Promise<string> {
  const code = await builtFunction()
  const block = /const PQLKIT_MODEL = [\s\S]*?\n};\n/
  if (!block.test(code)) throw new Error('the built Function has no model block to paste into')
  return code.replace(block, () => `const PQLKIT_MODEL = ${JSON.stringify(model, null, 2)};\n`)
}
