/**
 * Milliseconds since the epoch for an ISO 8601 date-time. One without a UTC offset is read
 * as UTC, never as the machine's local time, so every host gives the same answer. NaN when
 * it is not a date-time.
 */
export function parseTimestamp(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(text)) return Number.NaN
  const local = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
  return Date.parse(local ? `${text}Z` : text)
}

const DAY_MS = 86_400_000

/** How far the wall clock of `timeZone` (an IANA name) is ahead of UTC at `at`, in ms. */
function zoneOffsetMs(at: number, format: Intl.DateTimeFormat): number {
  const parts: Record<string, number> = {}
  for (const part of format.formatToParts(new Date(at))) if (part.type !== 'literal') parts[part.type] = Number(part.value)
  const local = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second)
  return local - (at - (((at % 1_000) + 1_000) % 1_000))
}

/**
 * Milliseconds from `at` to the next midnight on the wall clock of `timeZone` (an IANA name
 * such as `America/New_York`), daylight-saving changes included, by the platform's `Intl`.
 * A name `Intl` does not know counts as UTC.
 */
export function msUntilMidnight(at: number, timeZone: string): number {
  let format: Intl.DateTimeFormat
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
  } catch {
    return DAY_MS - (((at % DAY_MS) + DAY_MS) % DAY_MS)
  }
  const offset = zoneOffsetMs(at, format)
  const nextLocalMidnight = Math.floor((at + offset) / DAY_MS) * DAY_MS + DAY_MS
  // The offset at midnight may differ from now's (a daylight-saving change tonight).
  const guess = nextLocalMidnight - offset
  return nextLocalMidnight - zoneOffsetMs(guess, format) - at
}
