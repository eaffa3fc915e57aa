import { generateEvents, GeneratorOptions, Profile, PROFILES } from '../generator/generate-events'
import { Io, UsageError } from './io'

export type GenerateOptions = { profile?: string; users?: string; days?: string; end?: string; seed?: string }

/** The bundled sample: `pqlkit generate` with no options writes examples/sample-events.jsonl's content. */
export const SAMPLE_OPTIONS: GeneratorOptions = {
  profile: 'project-management',
  users: 300,
  days: 30,
  end: '2026-11-01T00:00:00.000Z',
  seed: 42
}

function wholeNumber(text: string | undefined, name: string, fallback: number, max: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`--${name} takes a whole number from 1 to ${max}`)
  return value
}

export function generatorOptions(options: GenerateOptions): GeneratorOptions {
  const profile = (options.profile ?? SAMPLE_OPTIONS.profile) as Profile
  if (!PROFILES.includes(profile)) throw new UsageError(`--profile takes one of ${PROFILES.join(', ')}`)
  const end = options.end ?? SAMPLE_OPTIONS.end
  if (Number.isNaN(Date.parse(end))) throw new UsageError(`--end ${end} is not an ISO 8601 date-time`)
  return {
    profile,
    users: wholeNumber(options.users, 'users', SAMPLE_OPTIONS.users, 1_000_000),
    days: wholeNumber(options.days, 'days', SAMPLE_OPTIONS.days, 90),
    end: new Date(end).toISOString(),
    seed: wholeNumber(options.seed, 'seed', SAMPLE_OPTIONS.seed, 2 ** 31)
  }
}

/** Writes a synthetic, seeded event stream as JSON Lines (Segment's spec) to stdout. */
export function generateCommand(io: Io, options: GenerateOptions): number {
  for (const message of generateEvents(generatorOptions(options))) io.stdout.write(`${JSON.stringify(message)}\n`)
  return 0
}
