/** Readers of untyped host messages (Segment spec, PostHog events) shared by their mappings. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An id as hosts send them: a non-blank string (trimmed) or a finite number. */
export function asId(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim()
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}
