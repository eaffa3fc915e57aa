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
