import { z } from 'zod'
import { DURATION_PATTERN } from './duration'

/**
 * The model document of SPEC §3 as zod schemas: the single source of truth for the model's
 * types, its validation and its JSON Schema (core/schema/model.schema.json).
 */

const keyedUnions = new WeakMap<z.ZodType, z.ZodType[]>()

/**
 * A union whose variant is chosen by which of its keys the object has (`flag:` or `count:`,
 * `after:` or `half_life:`), so that errors speak of the variant the author meant instead of
 * zod's "no variant matched".
 */
function keyedUnion<V extends Record<string, z.ZodType>>(variants: V, what: string) {
  const keys = Object.keys(variants)
  const schema = z.unknown().transform((value, ctx): z.output<V[keyof V]> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `expected ${what}: an object with one of ${keys.join(', ')}` })
      return z.NEVER
    }
    const present = keys.filter((key) => key in value)
    if (present.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          present.length === 0
            ? `expected ${what}: one of ${keys.join(', ')}`
            : `has both ${present.join(' and ')}: ${what} takes one of them`
      })
      return z.NEVER
    }
    const result = variants[present[0]].safeParse(value)
    if (!result.success) {
      for (const issue of result.error.issues) {
        ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] })
      }
      return z.NEVER
    }
    return result.data as z.output<V[keyof V]>
  })
  keyedUnions.set(schema, Object.values(variants))
  return schema
}

const HUBSPOT_NAME = /^[a-z][a-z0-9_]{0,99}$/
export const PropertyName = z
  .string()
  .regex(HUBSPOT_NAME, 'expected a HubSpot internal name: lower-case letters, digits and _, starting with a letter, at most 100 characters')

const Duration = z.string().regex(DURATION_PATTERN, 'expected a duration such as 7d, 24h, 30m or 2w')

export const Window = z
  .string()
  .regex(/^\d+d$/, 'expected a window in whole days, such as 7d or 30d')
  .refine((text) => {
    const days = Number.parseInt(text, 10)
    return days >= 1 && days <= 90
  }, 'a window is 1d to 90d')

export const EventNames = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected an event name, a list of event names, or "*" for any track event'
})

export const MatcherDocument = z.union(
  [EventNames, z.strictObject({ event: EventNames, where: z.string().min(1).optional() })],
  { error: 'expected an event name, a list of event names, "*", or { event: NAME, where: CONDITION }' }
)

const windowed = { window: Window.optional() }
export const PropertyPath = z.string().min(1).max(200)
const ValueTypeName = z.enum(['string', 'number', 'bool', 'datetime'])

const contactSignalVariants = {
  flag: z.strictObject({ flag: MatcherDocument }),
  count: z.strictObject({ count: MatcherDocument, ...windowed }),
  sum: z.strictObject({ sum: MatcherDocument, of: PropertyPath, ...windowed }),
  distinct: z.strictObject({ distinct: MatcherDocument, of: PropertyPath, ...windowed }),
  active_days: z.strictObject({ active_days: MatcherDocument, window: Window }),
  first_seen: z.strictObject({ first_seen: MatcherDocument }),
  last_seen: z.strictObject({ last_seen: MatcherDocument }),
  latest: z.strictObject({ latest: MatcherDocument, of: PropertyPath, type: ValueTypeName.optional() }),
  trait: z.strictObject({
    trait: PropertyPath,
    type: ValueTypeName.optional()
  })
}

export const SignalDocument = keyedUnion(contactSignalVariants, 'a signal')
export const CompanySignalDocument = keyedUnion(
  { ...contactSignalVariants, distinct_users: z.strictObject({ distinct_users: MatcherDocument, ...windowed }) },
  'a company signal'
)

export const RuleDocument = z
  .strictObject({
    label: z.string().min(1).max(200).optional(),
    when: z.string().min(1).optional(),
    per: PropertyName.optional(),
    every: z.number().positive().optional(),
    cap: z.number().int().nonnegative().optional(),
    points: z.number().int('points are whole numbers'),
    once: z.boolean().optional()
  })
  .superRefine((rule, ctx) => {
    if (rule.when === undefined && rule.per === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a rule needs `when: CONDITION` or `per: SIGNAL`' })
    }
    if (rule.once && rule.per !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['once'], message: '`once` is for `when` rules, not `per` rules' })
    }
    if (rule.per === undefined) {
      for (const key of ['every', 'cap'] as const) {
        if (rule[key] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: `\`${key}\` goes with \`per\`` })
        }
      }
    }
  })

export const DecayDocument = keyedUnion(
  {
    after: z.strictObject({ after: Duration, every: Duration, points: z.number().int().positive() }),
    half_life: z.strictObject({ half_life: Duration }),
    steps: z.strictObject({
      steps: z.array(z.strictObject({ after: Duration, keep: z.number().min(0).max(1) })).min(1)
    })
  },
  'a decay'
)

const TierName = z.string().min(1).max(100)

export const ScoreDocument = z
  .strictObject({
    property: PropertyName,
    activity: PropertyName.optional(),
    rules: z.array(RuleDocument).min(1).optional(),
    composite: z.record(PropertyName, z.number()).optional(),
    decay: DecayDocument.optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    tiers: z.record(TierName, z.number()).optional()
  })
  .superRefine((score, ctx) => {
    if ((score.rules === undefined) === (score.composite === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a score has either `rules` or `composite`' })
    }
    if (score.decay !== undefined && score.activity === undefined) {
      ctx.addIssue({ code: 'custom', path: ['activity'], message: '`decay` needs `activity`: the datetime signal whose age drives it' })
    }
    if (score.min !== undefined && score.max !== undefined && score.min > score.max) {
      ctx.addIssue({ code: 'custom', path: ['max'], message: '`max` is below `min`' })
    }
  })

/** Checked with a pattern, not `URL`: the model is also parsed inside sandboxes that have no `URL`. */
export const HTTPS_URL = /^https:\/\/([a-z0-9.-]+)(?::\d{1,5})?(?:[/?#]|$)/i
const WebhookUrl = z.string().regex(HTTPS_URL, 'expected an https:// URL')

export const HandoffDocument = z
  .strictObject({
    on: keyedUnion(
      {
        enters: z.strictObject({ enters: TierName, score: PropertyName.optional() }),
        rises_by: z.strictObject({ rises_by: z.number().int().positive(), within: Duration, score: PropertyName.optional() })
      },
      'a trigger'
    ),
    unless: z.string().min(1).optional(),
    slack: z.strictObject({ webhook: WebhookUrl.optional() }).optional(),
    task: z
      .strictObject({
        title: z.string().min(1).max(500),
        body: z.string().max(5000).optional(),
        due: Duration.default('0d'),
        priority: z.enum(['LOW', 'MEDIUM', 'HIGH']).optional()
      })
      .optional()
  })
  .superRefine((handoff, ctx) => {
    if (handoff.slack === undefined && handoff.task === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a hand-off needs `slack`, `task` or both' })
    }
  })

export const CompanySectionDocument = z.strictObject({
  company_from_email: z.boolean().default(false),
  signals: z.record(PropertyName, CompanySignalDocument).default({}),
  scores: z.array(ScoreDocument).default([])
})

export const ModelDocument = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal(1, 'expected version: 1'),
  name: z.string().min(1).max(200),
  /** May be empty when mappings (./mappings.ts) provide the signals. */
  signals: z.record(PropertyName, SignalDocument).default({}),
  scores: z.array(ScoreDocument).default([]),
  handoff: z.array(HandoffDocument).default([]),
  company: CompanySectionDocument.optional(),
  free_mail_domains: z.array(z.string().min(3)).optional()
})

export type ModelDocument = z.output<typeof ModelDocument>
export type SignalDocument = z.output<typeof CompanySignalDocument>
export type RuleDocument = z.output<typeof RuleDocument>
export type ScoreDocument = z.output<typeof ScoreDocument>
export type DecayDocument = z.output<typeof DecayDocument>
export type HandoffDocument = z.output<typeof HandoffDocument>
export type MatcherDocument = z.output<typeof MatcherDocument>

/** The model's JSON Schema, for editors (`$schema: ./model.schema.json`). */
export function modelJsonSchema(): Record<string, unknown> {
  const toJson = (schema: z.ZodType): Record<string, unknown> =>
    z.toJSONSchema(schema, {
      io: 'input',
      unrepresentable: 'any',
      override: (ctx) => {
        const variants = keyedUnions.get(ctx.zodSchema as unknown as z.ZodType)
        if (variants) {
          ctx.jsonSchema.anyOf = variants.map((variant) => {
            const { $schema: _, ...rest } = toJson(variant)
            return rest
          })
        }
      }
    }) as Record<string, unknown>
  return {
    ...toJson(ModelDocument),
    title: 'pqlkit model',
    description: 'A pqlkit PQL model: signals, scores, tiers and hand-offs (see SPEC §3).'
  }
}
