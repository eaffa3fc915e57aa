import { DEFAULT_FAVOURED, generateEvents, generateOutcomes, GeneratorOptions, Profile, PROFILES, SegmentMessage } from '../generator/generate-events'
import { Io, UsageError, writeText } from './io'

export type GenerateOptions = {
  profile?: string
  users?: string
  days?: string
  end?: string
  seed?: string
  /** where to write the outcomes CSV (email,converted_at) */
  outcomes?: string
  /** comma-separated track events the outcomes' ground truth favours */
  favour?: string
}

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

/**
 * Writes a synthetic, seeded event stream as JSON Lines (Segment's spec) to stdout; with
 * `outcomes`, also who converted and when, by the generator's ground truth, as a CSV file.
 */
export function generateCommand(io: Io, options: GenerateOptions): number {
  const generator = generatorOptions(options)
  if (options.favour !== undefined && options.outcomes === undefined) throw new UsageError('--favour goes with --outcomes')
  let messages: SegmentMessage[]
  if (options.outcomes === undefined) messages = generateEvents(generator)
  else {
    const favoured = options.favour?.split(',').map((event) => event.trim()) ?? DEFAULT_FAVOURED[generator.profile]
    let generated: ReturnType<typeof generateOutcomes>
    try {
      generated = generateOutcomes(generator, favoured)
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(`--favour: ${error.message}`)
      throw error
    }
    messages = generated.messages
    const rows = generated.outcomes.map((outcome) => `${outcome.email},${outcome.convertedAt ?? ''}`)
    writeText(io, options.outcomes, ['email,converted_at', ...rows, ''].join('\n'), 'outcomes file')
  }
  for (const message of messages) io.stdout.write(`${JSON.stringify(message)}\n`)
  return 0
}
