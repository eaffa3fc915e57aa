import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mappingsJsonSchema } from './mappings'
import { modelJsonSchema } from './schema'

/** `npm run schema -w @pqlkit/core` regenerates core/schema/*.schema.json from the zod schemas. */
export const MODEL_SCHEMA_PATH = join(__dirname, '..', '..', 'schema', 'model.schema.json')
export const MAPPINGS_SCHEMA_PATH = join(__dirname, '..', '..', 'schema', 'mappings.schema.json')

export function renderModelJsonSchema(): string {
  return `${JSON.stringify(modelJsonSchema(), null, 2)}\n`
}

export function renderMappingsJsonSchema(): string {
  return `${JSON.stringify(mappingsJsonSchema(), null, 2)}\n`
}

if (require.main === module) {
  writeFileSync(MODEL_SCHEMA_PATH, renderModelJsonSchema())
  writeFileSync(MAPPINGS_SCHEMA_PATH, renderMappingsJsonSchema())
}
