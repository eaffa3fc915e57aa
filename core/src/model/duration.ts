/** Durations in model files: a whole number and a unit, e.g. `7d`, `24h`, `30m`, `2w`. */

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
}

export const DURATION_PATTERN = /^(\d+)(s|m|h|d|w)$/
export const DAY_MS = UNIT_MS.d

export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text)
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)}`)
  return Number(match[1]) * UNIT_MS[match[2]]
}
