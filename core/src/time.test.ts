import fc from 'fast-check'
import { msUntilMidnight, parseTimestamp } from './time'

const HOUR = 3_600_000

describe('msUntilMidnight', () => {
  it('counts to the next midnight on the zone’s wall clock', () => {
    const at = Date.parse('2026-03-01T18:00:00Z')
    expect(msUntilMidnight(at, 'Etc/UTC')).toBe(6 * HOUR)
    expect(msUntilMidnight(at, 'America/Los_Angeles')).toBe(14 * HOUR)
    expect(msUntilMidnight(at, 'Asia/Kolkata')).toBe(0.5 * HOUR)
  })

  it('across a daylight-saving change: a 23-hour and a 25-hour day', () => {
    // Los Angeles springs forward at 02:00 on 8 March 2026 and falls back at 02:00 on 1 November.
    expect(msUntilMidnight(Date.parse('2026-03-08T08:00:00Z'), 'America/Los_Angeles')).toBe(23 * HOUR)
    expect(msUntilMidnight(Date.parse('2026-11-01T07:00:00Z'), 'America/Los_Angeles')).toBe(25 * HOUR)
  })

  it('a zone Intl does not know counts as UTC', () => {
    expect(msUntilMidnight(Date.parse('2026-03-01T18:00:00Z'), 'Not/AZone')).toBe(6 * HOUR)
  })
})

describe('parseTimestamp', () => {
  const pad = (value: number, width: number) => String(value).padStart(width, '0')
  it('reads the form hosts send as Date.parse does, invalid fields and rolled-over days included', () => {
    const field = (width: number) => fc.integer({ min: 0, max: 10 ** width - 1 }).map((value) => pad(value, width))
    // Fields near and past their ranges, so both the hand reader and Date.parse's fallback are exercised.
    const near = (max: number) => fc.integer({ min: 0, max: max + 2 }).map((value) => pad(value, 2))
    const stamp = fc
      .tuple(fc.oneof(field(4), fc.constantFrom('0999', '1000', '2024', '2026', '9999')), near(12), near(31), near(24), near(59), near(60), field(3))
      .map(([year, month, day, hour, minute, second, ms]) => `${year}-${month}-${day}T${hour}:${minute}:${second}.${ms}Z`)
    fc.assert(
      fc.property(stamp, (text) => {
        expect(parseTimestamp(text)).toBe(Date.parse(text))
      }),
      { numRuns: 5_000 }
    )
  })

  it('other forms go to Date.parse: offsets, no milliseconds, no zone (read as UTC), a date alone', () => {
    expect(parseTimestamp('2026-03-01T18:00:00+01:00')).toBe(Date.parse('2026-03-01T17:00:00Z'))
    expect(parseTimestamp('2026-03-01T18:00:00Z')).toBe(Date.parse('2026-03-01T18:00:00Z'))
    expect(parseTimestamp('2026-03-01T18:00:00.123')).toBe(Date.parse('2026-03-01T18:00:00.123Z'))
    expect(parseTimestamp('2026-03-01')).toBe(Date.parse('2026-03-01T00:00:00Z'))
    expect(parseTimestamp('2026-3-1T18:00:00.000Z')).toBeNaN()
    expect(parseTimestamp('yesterday')).toBeNaN()
  })
})
