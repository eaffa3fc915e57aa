import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { modelJsonSchema } from './schema'

/** `npm run schema -w @pqlkit/core` regenerates core/schema/model.schema.json from the zod schema. */
export const MODEL_SCHEMA_PATH = join(__dirname, '..', '..', 'schema', 'model.schema.json')

export function renderModelJsonSchema(): string {
  return `${JSON.stringify(modelJsonSchema(), null, 2)}\n`
}

if (require.main === module) writeFileSync(MODEL_SCHEMA_PATH, renderModelJsonSchema())
