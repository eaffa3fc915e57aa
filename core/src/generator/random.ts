/**
 * A small seeded pseudo-random number generator for the synthetic event generator:
 * mulberry32 (32-bit state, period 2^32), plus the helpers the generator needs.
 * Deterministic on every platform: only 32-bit integer arithmetic (`Math.imul`, `>>>`).
 */

/** mulberry32: returns a function yielding floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Mixes a 32-bit value (the murmur3 finaliser). */
function mix32(value: number): number {
  let h = value >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/**
 * A 32-bit seed from any number of numbers (each any finite number: its integer part is
 * used, all 53 bits of it), so that `hashSeed(seed, 1)` and `hashSeed(seed, 2)` give
 * unrelated streams.
 */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9
  for (const part of parts) {
    const whole = Math.trunc(part)
    const low = whole >>> 0
    const high = Math.floor(whole / 4294967296) >>> 0
    h = mix32(h ^ mix32(low))
    h = mix32(h ^ mix32(high + 0x27d4eb2f))
  }
  return h
}

export class Random {
  private readonly source: () => number

  constructor(readonly seed: number) {
    this.source = mulberry32(seed)
  }

  /** A float in [0, 1). */
  next(): number {
    return this.source()
  }

  /** An unsigned 32-bit integer. */
  uint32(): number {
    return Math.floor(this.source() * 4294967296) >>> 0
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.source() * (max - min + 1))
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + this.source() * (max - min)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.source() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.source() * items.length)]
  }

  /** One of the items, with probability proportional to its weight (weights ≤ 0 never). */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0
    for (const [, weight] of items) if (weight > 0) total += weight
    if (total <= 0) throw new RangeError('weighted pick with no positive weight')
    let r = this.source() * total
    let last: T | undefined
    for (const [item, weight] of items) {
      if (weight <= 0) continue
      last = item
      if (r < weight) return item
      r -= weight
    }
    return last as T
  }

  /** An approximately normal value (Irwin–Hall with 4 uniforms: mean 0, sd 1). */
  normal(mean = 0, sd = 1): number {
    const sum = this.source() + this.source() + this.source() + this.source()
    return mean + sd * (sum - 2) * Math.sqrt(3)
  }

  /** Fisher–Yates, in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.source() * (i + 1))
      const swap = items[i]
      items[i] = items[j]
      items[j] = swap
    }
    return items
  }

  /** An independent stream, derived from this one's seed and a label (not its position). */
  fork(...labels: number[]): Random {
    return new Random(hashSeed(this.seed, ...labels))
  }
}

function hex(value: number, digits: number): string {
  return (value >>> 0).toString(16).padStart(8, '0').slice(8 - digits)
}

/**
 * UUID-shaped (version 4 layout) ids: 74 pseudo-random bits from `random`, and the counter in
 * the last 12 hex digits, so ids from one generator never repeat.
 */
export function uuidFrom(random: Random, counter: number): string {
  const a = random.uint32()
  const b = random.uint32()
  const c = random.uint32()
  const counterHex = Math.floor(counter).toString(16).padStart(12, '0')
  return [
    hex(a, 8),
    hex(b >>> 16, 4),
    '4' + hex(b, 3),
    hex(8 | (c >>> 30), 1) + hex(c >>> 8, 3),
    counterHex
  ].join('-')
}
