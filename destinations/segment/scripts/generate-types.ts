import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fieldsToJsonSchema } from '@segment/actions-core'
import { compile } from 'json-schema-to-typescript'
import destination from '../src'

const BANNER = '// Generated file. DO NOT MODIFY IT BY HAND.'
const SRC = join(__dirname, '..', '..', 'src')

async function render(fields: Parameters<typeof fieldsToJsonSchema>[0], name: string): Promise<string> {
  return compile(fieldsToJsonSchema(fields) as never, name, {
    bannerComment: BANNER,
    style: { semi: false, singleQuote: true },
    strictIndexSignatures: true
  })
}

/** generated-types.ts for the settings and each action, from their fields (as Segment's repository does). */
export async function renderTypes(): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  files.set(join(SRC, 'generated-types.ts'), await render(destination.authentication!.fields, 'Settings'))
  for (const [slug, action] of Object.entries(destination.actions)) {
    files.set(join(SRC, slug, 'generated-types.ts'), await render(action.fields, 'Payload'))
  }
  return files
}

if (require.main === module) {
  renderTypes().then((files) => {
    for (const [path, content] of files) writeFileSync(path, content)
    process.stdout.write(`wrote ${files.size} generated-types.ts files\n`)
  })
}
