/**
 * Milliseconds since the epoch for an ISO 8601 date-time. One without a UTC offset is read
 * as UTC, never as the machine's local time, so every host gives the same answer. NaN when
 * it is not a date-time.
 */
export function parseTimestamp(text: string): number {
  const canonical = canonicalTime(text)
  if (canonical !== undefined) return canonical
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(text)) return Number.NaN
  const local = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
  return Date.parse(local ? `${text}Z` : text)
}

/** The decimal digits of `text` from `start` to `end` as a number, or -1 when one is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, the form hosts send (`Date.prototype.toISOString`'s), read by
 * hand: Date.parse was a third of an event's validation. Only fields in their ranges and
 * years from 1000 are read here (a day past the month's end rolls over, as Date.parse does);
 * anything else is left to Date.parse (undefined).
 */
function canonicalTime(text: string): number | undefined {
  if (text.length !== 24 || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':' || text[19] !== '.' || text[23] !== 'Z') {
    return undefined
  }
  const year = digits(text, 0, 4)
  const month = digits(text, 5, 7)
  const day = digits(text, 8, 10)
  const hour = digits(text, 11, 13)
  const minute = digits(text, 14, 16)
  const second = digits(text, 17, 19)
  const ms = digits(text, 20, 23)
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return undefined
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms)
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
