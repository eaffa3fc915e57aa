import { msUntilMidnight } from './time'

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
