/**
 * Seeded fault injection. Every decision is a pure function of (seed, the request's sequence
 * number since the faults were set, a stream number), so the same seed and the same request
 * order give the same faults, run after run.
 */
export type FaultOptions = {
  seed: number
  /** Probability per request of an injected 429 (TEN_SECONDLY_ROLLING body). */
  rate429?: number
  /** Probability per request of a 502/503/504 with an HTML or JSON body. */
  rate5xx?: number
  /** Added latency on every request. */
  latencyMs?: number
  /** Probability that the socket is destroyed without an answer. */
  dropRate?: number
  /** Probability, per record of a batch upsert/update/read/associate, of a per-record error in a 207. */
  partialRate?: number
}

/** What happens to one request. */
export type FaultPlan = {
  seq: number
  latencyMs: number
  drop: boolean
  serverError?: { status: 502 | 503 | 504; html: boolean }
  tooMany: boolean
  /** Whether the record at this index of the request's batch fails. */
  failsRecord(index: number): boolean
}

/** A 32-bit avalanche step: xor-shift, then an odd multiplier, three times. */
function scramble(value: number): number {
  let x = value >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad)
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97)
  return (x ^ (x >>> 15)) >>> 0
}

/** A uniform number in [0, 1) for (seed, sequence number, stream). */
export function draw(seed: number, seq: number, stream: number): number {
  let h = scramble(Math.floor(seed) ^ 0x5bd1e995)
  h = scramble(h ^ seq)
  h = scramble(h + Math.imul(stream, 0x27d4eb2f))
  return h / 4294967296
}

const STREAM = { drop: 1, serverError: 2, status: 3, html: 4, tooMany: 5, records: 1000 }
const STATUSES = [502, 503, 504] as const

export class Faults {
  private options: FaultOptions | undefined
  private seq = 0

  constructor(options?: FaultOptions) {
    this.set(options)
  }

  /** New faults start a new sequence, so `setFaults(x)` twice replays the same faults. */
  set(options: FaultOptions | undefined): void {
    this.options = options ? { ...options } : undefined
    this.seq = 0
  }

  get active(): FaultOptions | undefined {
    return this.options
  }

  /** Draws the plan of the next request. */
  next(): FaultPlan {
    const seq = ++this.seq
    const o = this.options
    if (!o) return { seq, latencyMs: 0, drop: false, tooMany: false, failsRecord: () => false }
    const chance = (stream: number, rate: number | undefined) => (rate ?? 0) > 0 && draw(o.seed, seq, stream) < (rate ?? 0)
    const plan: FaultPlan = {
      seq,
      latencyMs: Math.max(0, o.latencyMs ?? 0),
      drop: chance(STREAM.drop, o.dropRate),
      tooMany: chance(STREAM.tooMany, o.rate429),
      failsRecord: (index) => chance(STREAM.records + index, o.partialRate)
    }
    if (chance(STREAM.serverError, o.rate5xx)) {
      plan.serverError = {
        status: STATUSES[Math.floor(draw(o.seed, seq, STREAM.status) * STATUSES.length)],
        html: draw(o.seed, seq, STREAM.html) < 0.5
      }
    }
    return plan
  }
}
