import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Ajv2020 from 'ajv/dist/2020'
import { parse } from 'yaml'
import { MAPPINGS_SCHEMA_PATH, MODEL_SCHEMA_PATH, renderMappingsJsonSchema, renderModelJsonSchema } from './write-json-schema'

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples')

describe('the model JSON Schema (core/schema/model.schema.json)', () => {
  it('is what the zod schema generates today (run `npm run schema -w @pqlkit/core` when this fails)', () => {
    expect(readFileSync(MODEL_SCHEMA_PATH, 'utf8')).toBe(renderModelJsonSchema())
  })

  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(renderModelJsonSchema()))

  it.each(readdirSync(EXAMPLES).filter((name) => name.endsWith('.yaml')))('accepts examples/%s, as an editor would', (name) => {
    const valid = validate(parse(readFileSync(join(EXAMPLES, name), 'utf8')))
    expect(validate.errors ?? []).toEqual([])
    expect(valid).toBe(true)
  })

  it('flags what an editor should underline: an unknown signal kind, a misspelt key', () => {
    expect(validate({ version: 1, name: 'x', signals: { a: { cont: 'x' } }, scores: [] })).toBe(false)
    expect(validate({ version: 1, name: 'x', signals: {}, scores: [{ property: 'pql_score', rulez: [] }] })).toBe(false)
  })
})

describe('the mappings JSON Schema (core/schema/mappings.schema.json)', () => {
  it('is what the zod schema generates today (run `npm run schema -w @pqlkit/core` when this fails)', () => {
    expect(readFileSync(MAPPINGS_SCHEMA_PATH, 'utf8')).toBe(renderMappingsJsonSchema())
  })

  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(renderMappingsJsonSchema()))

  it('accepts examples/mappings/mappings.json and flags an unknown aggregation', () => {
    expect(validate(JSON.parse(readFileSync(join(EXAMPLES, 'mappings', 'mappings.json'), 'utf8')))).toBe(true)
    expect(validate([{ property: 'x', aggregation: 'average', event: 'A' }])).toBe(false)
  })
})
