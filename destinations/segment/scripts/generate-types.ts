import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fieldsToJsonSchema } from '@segment/actions-core'
import { compile } from 'json-schema-to-typescript'
import destination from '../src'

const BANNER = '// Generated file. DO NOT MODIFY IT BY HAND.'
const DEFAULT_SRC = join(__dirname, '..', '..', 'src')

async function render(fields: Parameters<typeof fieldsToJsonSchema>[0], name: string): Promise<string> {
  return compile(fieldsToJsonSchema(fields) as never, name, {
    bannerComment: BANNER,
    style: { semi: false, singleQuote: true },
    strictIndexSignatures: true
  })
}

/** generated-types.ts for the settings and each action, from their fields (as Segment's repository does). */
export async function renderTypes(src = DEFAULT_SRC): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  files.set(join(src, 'generated-types.ts'), await render(destination.authentication!.fields, 'Settings'))
  for (const [slug, action] of Object.entries(destination.actions)) {
    files.set(join(src, slug, 'generated-types.ts'), await render(action.fields, 'Payload'))
  }
  return files
}

/** `--check [--src DIR]`: exit 1 listing the files that differ from what the fields generate. */
if (require.main === module) {
  const check = process.argv.includes('--check')
  const srcAt = process.argv.indexOf('--src')
  renderTypes(srcAt > 0 ? process.argv[srcAt + 1] : undefined).then((files) => {
    const stale = [...files].filter(([path, content]) => readFileSync(path, 'utf8') !== content).map(([path]) => path)
    if (check) {
      for (const path of stale) process.stdout.write(`stale: ${path}\n`)
      process.exitCode = stale.length > 0 ? 1 : 0
      return
    }
    for (const [path, content] of files) writeFileSync(path, content)
    process.stdout.write(`wrote ${files.size} generated-types.ts files\n`)
  })
}
