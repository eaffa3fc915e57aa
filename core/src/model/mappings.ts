import { z } from 'zod'
import { fingerprint } from '../hash'
import { ModelError, ModelIssue } from './compile'
import { EventNames, PropertyName, PropertyPath, SignalDocument, Window } from './schema'

/**
 * A mapping (docs/mappings.md): one event aggregated into one HubSpot property, as RevOps sets
 * it up in a host's own UI (a destination's mapping action, a plugin's `mappings` input).
 * Each mapping becomes one of the model's signals (SPEC §3.1), so the model itself
 * may hold only scores, tiers and hand-offs.
 */

/** Every aggregation a mapping offers, with what it writes: the hosts' UIs show these words. */
export const AGGREGATIONS = {
  flag: 'Flag: true once the event was seen',
  count: 'Count: how many times the event happened (in the window, if given)',
  sum: 'Sum: the total of a numeric value of the event (in the window, if given)',
  distinct: "Distinct: how many different values the event's value took (in the window, if given)",
  active_days: 'Active days: on how many days (UTC) in the window the event happened',
  first_seen: 'First seen: when the event first happened',
  last_seen: 'Last seen: when the event last happened',
  latest: 'Latest value: the value of the most recent event'
} as const

export type Aggregation = keyof typeof AGGREGATIONS

/** Aggregations that take a window (`active_days` needs one). */
export const WINDOWED: ReadonlySet<Aggregation> = new Set<Aggregation>(['count', 'sum', 'distinct', 'active_days'])
/** Aggregations that read a value of the event. */
export const VALUED: ReadonlySet<Aggregation> = new Set<Aggregation>(['sum', 'distinct', 'latest'])

/** `amount`, or a `{ "@path": "$.properties.amount" }` directive as a host's mapping export holds it. */
const ValuePath = z.union(
  [
    PropertyPath,
    z
      .strictObject({ '@path': z.string().regex(/^\$\.properties\.[^.].*$/, 'expected a path into the event\'s properties, such as $.properties.amount') })
      .transform((directive) => directive['@path'].slice('$.properties.'.length))
  ],
  { error: 'expected a property of the event, such as amount, or { "@path": "$.properties.amount" }' }
)

export const MappingDocument = z
  .strictObject({
    property: PropertyName,
    object: z.enum(['contact', 'company'], 'expected contact or company').default('contact'),
    aggregation: z.enum(Object.keys(AGGREGATIONS) as [Aggregation, ...Aggregation[]], {
      error: `expected one of ${Object.keys(AGGREGATIONS).join(', ')}`
    }),
    event: EventNames,
    window: Window.optional(),
    value: ValuePath.optional()
  })
  .superRefine((mapping, ctx) => {
    if (mapping.window !== undefined && !WINDOWED.has(mapping.aggregation)) {
      ctx.addIssue({ code: 'custom', path: ['window'], message: `${mapping.aggregation} takes no window` })
    }
    if (mapping.window === undefined && mapping.aggregation === 'active_days') {
      ctx.addIssue({ code: 'custom', path: ['window'], message: 'active_days needs a window, such as 30d' })
    }
    if (mapping.value === undefined && VALUED.has(mapping.aggregation)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${mapping.aggregation} needs the value to read, such as amount` })
    }
    if (mapping.value !== undefined && !VALUED.has(mapping.aggregation)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${mapping.aggregation} reads no value` })
    }
  })

export const MappingsDocument = z.array(MappingDocument, { error: 'expected a list of mappings' })

export type Mapping = z.output<typeof MappingDocument>

/** The mappings' JSON Schema (core/schema/mappings.schema.json), for editors and the hosts' JSON inputs. */
export function mappingsJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(MappingsDocument, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
    title: 'pqlkit mappings',
    description: 'Events mapped to HubSpot properties, each one of the model signals (docs/mappings.md).'
  }
}

/**
 * A mapped signal's fingerprint (its state restarts when it changes): its record, aggregation
 * and window, which every host sees; not its event or value path, which a host's trigger and
 * `@path` may resolve before pqlkit sees a payload.
 */
export function mappingFingerprint(mapping: Mapping): string {
  return fingerprint(JSON.stringify(['mapping', mapping.object, mapping.aggregation, mapping.window ?? null]))
}

/** The model signal a mapping stands for: `{ count: "Report Created", window: "30d" }`. */
export function mappingSignal(mapping: Mapping): SignalDocument {
  const { aggregation, event, window, value } = mapping
  switch (aggregation) {
    case 'flag':
    case 'first_seen':
    case 'last_seen':
      return { [aggregation]: event } as SignalDocument
    case 'count':
      return { count: event, ...(window ? { window } : {}) }
    case 'sum':
    case 'distinct':
      return { [aggregation]: event, of: value!, ...(window ? { window } : {}) } as SignalDocument
    case 'active_days':
      return { active_days: event, window: window! }
    case 'latest':
      return { latest: event, of: value! }
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Reads one element of a host's export of its subscriptions as the mapping it saves:
 * undefined for an element that is a mapping already, `{}` for a subscription of another
 * action (skipped), a problem (at a field of the element) for one that cannot be read.
 */
export type ExportReader = (element: unknown) => { mapping?: unknown; problem?: { path: string; message: string } } | undefined

/**
 * Mappings checked against their schema: a list of mappings, or, with `fromExport`, a host's
 * export of its subscriptions (the mapping action's are read, the others skipped). Every
 * problem with its path (`[index, field]`), thrown as a ModelError of `source`.
 */
export function parseMappings(input: unknown, source = 'mappings', fromExport?: ExportReader): Mapping[] {
  const issues: ModelIssue[] = []
  const elements = Array.isArray(input) ? input : undefined
  const kept: number[] = []
  const documents = elements?.flatMap((element, index) => {
    const read = fromExport?.(element)
    if (read === undefined) {
      kept.push(index)
      return [element]
    }
    const { mapping, problem } = read
    if (problem) issues.push({ path: [index, problem.path], message: problem.message })
    if (mapping === undefined) return []
    kept.push(index)
    return [mapping]
  })
  const result = MappingsDocument.safeParse(documents ?? input)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const [at, ...rest] = issue.path as (string | number)[]
      const path = typeof at === 'number' ? [kept[at], ...rest] : (issue.path as (string | number)[])
      issues.push({ path, message: issue.message })
    }
  }
  if (issues.length > 0) throw new ModelError(issues, source)
  return result.data!
}

/**
 * The model document with the mappings' signals added to its contact or company section, for
 * `parseModel`. Pure. A mapping may not take a name the model (or another mapping) already
 * uses: that is a ModelError at the mapping, in `source`. A document that is not an object is
 * returned as it is, for the model's own validation to report.
 */
export function withMappings(modelDocument: unknown, mappings: Mapping[], source = 'mappings'): unknown {
  if (!isObject(modelDocument) || mappings.length === 0) return modelDocument
  const company = isObject(modelDocument.company) ? modelDocument.company : undefined
  const contactSignals = isObject(modelDocument.signals) ? { ...modelDocument.signals } : {}
  const companySignals = isObject(company?.signals) ? { ...company.signals } : {}
  const scoreNames = (scores: unknown) =>
    Array.isArray(scores) ? scores.flatMap((score) => (isObject(score) && typeof score.property === 'string' ? [score.property] : [])) : []
  const taken = new Map<string, string>()
  for (const name of Object.keys(contactSignals)) taken.set(name, `the model's signal ${name}`)
  for (const name of Object.keys(companySignals)) taken.set(name, `the model's company signal ${name}`)
  for (const name of [...scoreNames(modelDocument.scores), ...scoreNames(company?.scores)]) taken.set(name, `the model's score ${name}`)

  const issues: ModelIssue[] = []
  mappings.forEach((mapping, index) => {
    const owner = taken.get(mapping.property)
    if (owner !== undefined) {
      issues.push({ path: [index, 'property'], message: `"${mapping.property}" is already defined by ${owner}` })
      return
    }
    taken.set(mapping.property, `mapping ${index}`)
    const signals = mapping.object === 'company' ? companySignals : contactSignals
    signals[mapping.property] = mappingSignal(mapping)
  })
  if (issues.length > 0) throw new ModelError(issues, source)
  const merged: Record<string, unknown> = { ...modelDocument, signals: contactSignals }
  if (company !== undefined || Object.keys(companySignals).length > 0) merged.company = { ...company, signals: companySignals }
  return merged
}
