import { retryDelay } from './drain'

describe('retry backoff', () => {
  it('doubles from a second to at most five minutes, and waits longer when HubSpot says so', () => {
    const half = () => 0.5
    expect(retryDelay(0, 0, half)).toBe(750)
    expect(retryDelay(3, 0, half)).toBe(6000)
    expect(retryDelay(40, 0, half)).toBe(225_000)
    expect(retryDelay(40, 0, () => 0.999)).toBeLessThanOrEqual(300_000)
    expect(Number.isInteger(retryDelay(2, 0, () => 0.123456))).toBe(true)
    // A DAILY limit: until midnight UTC.
    expect(retryDelay(1, 6 * 3_600_000, half)).toBe(6 * 3_600_000)
  })
})
