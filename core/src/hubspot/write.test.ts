import { RetryableError } from '../engine/errors'
import type { BatchResult, HubSpotRecord } from './api'
import { HubSpotRequestError } from './transport'
import { PARTIAL_ATTEMPTS, RecordResult, writeInBatches, WriteItem } from './write'

type Input = { id: string; value: string }

function items(ids: string[]): { list: WriteItem<Input>[]; outcome: Map<string, RecordResult | 'done'> } {
  const outcome = new Map<string, RecordResult | 'done'>()
  const list = ids.map((id) => ({
    input: { id, value: id.startsWith('bad') ? 'oops' : '1' },
    ids: [id],
    matches: (record: HubSpotRecord) => record.properties.email === id,
    done: () => outcome.set(id, 'done'),
    failed: (result: RecordResult) => outcome.set(id, result)
  }))
  return { list, outcome }
}

const ok = (inputs: Input[]): BatchResult => ({
  results: inputs.map((input, i) => ({ id: String(i), properties: { email: input.id } })),
  errors: []
})

describe('batch writes', () => {
  it('a 400 for the whole batch is split until the bad record is found; every other record is written', async () => {
    const ids = Array.from({ length: 37 }, (_, i) => (i === 23 ? 'bad23@x.io' : `u${i}@x.io`))
    const { list, outcome } = items(ids)
    const calls: number[] = []
    await writeInBatches(list, async (inputs) => {
      calls.push(inputs.length)
      if (inputs.some((input) => input.value === 'oops')) {
        throw new HubSpotRequestError('POST /x', 400, { category: 'VALIDATION_ERROR', message: 'Property values were not valid' })
      }
      return ok(inputs)
    })
    expect(outcome.get('bad23@x.io')).toEqual({
      status: 'invalid',
      message: 'HubSpot POST /x answered 400 VALIDATION_ERROR: Property values were not valid'
    })
    expect([...outcome.values()].filter((value) => value === 'done')).toHaveLength(36)
    // Halving 37 records down to the bad one takes about 2 × log2(37) calls, not 37.
    expect(calls.length).toBeLessThanOrEqual(13)
  })

  it('a 207 marks only the records its errors name in their context', async () => {
    const { list, outcome } = items(['a@x.io', 'b@x.io', 'c@x.io'])
    await writeInBatches(list, async (inputs) => ({
      results: ok(inputs).results.filter((record) => record.properties.email !== 'b@x.io' && record.properties.email !== 'c@x.io'),
      errors: [
        { message: 'Property values were not valid', category: 'VALIDATION_ERROR', context: { ids: ['B@x.io'] } },
        { message: 'Internal error', category: 'INTERNAL_ERROR', context: { ids: ['c@x.io'] } }
      ]
    }))
    expect(outcome.get('a@x.io')).toBe('done')
    expect(outcome.get('b@x.io')).toMatchObject({ status: 'invalid' })
    expect(outcome.get('c@x.io')).toMatchObject({ status: 'retryable' })
  })

  it('a record a 207 failed transiently is written again at once, and done when that works', async () => {
    const { list, outcome } = items(['a@x.io', 'b@x.io'])
    const written: string[][] = []
    await writeInBatches(list, async (inputs) => {
      written.push(inputs.map((input) => input.id))
      if (written.length > 1) return ok(inputs)
      return {
        results: ok(inputs).results.filter((record) => record.properties.email === 'a@x.io'),
        errors: [{ message: 'Internal error', category: 'INTERNAL_ERROR', context: { ids: ['b@x.io'] } }]
      }
    })
    expect(written).toEqual([['a@x.io', 'b@x.io'], ['b@x.io']])
    expect([...outcome.values()]).toEqual(['done', 'done'])
  })

  it(`errors HubSpot does not attribute make unconfirmed records retryable after ${PARTIAL_ATTEMPTS} writes (a retry never double-counts)`, async () => {
    const { list, outcome } = items(['a@x.io', 'b@x.io'])
    let calls = 0
    await writeInBatches(list, async (inputs) => {
      calls++
      return {
        results: ok(inputs).results.filter((record) => record.properties.email === 'a@x.io'),
        errors: [{ message: 'Something went wrong', category: 'INTERNAL_ERROR' }]
      }
    })
    expect(calls).toBe(PARTIAL_ATTEMPTS)
    expect(outcome.get('a@x.io')).toBe('done')
    expect(outcome.get('b@x.io')).toMatchObject({ status: 'retryable' })
  })

  it('exhausted retries make the whole chunk retryable, with the retry-after', async () => {
    const { list, outcome } = items(['a@x.io', 'b@x.io'])
    await writeInBatches(list, async () => {
      throw new RetryableError('HubSpot kept rate-limiting', 10_000, true)
    })
    expect([...outcome.values()]).toEqual([
      { status: 'retryable', message: 'HubSpot kept rate-limiting', retryAfterMs: 10_000, throttled: true },
      { status: 'retryable', message: 'HubSpot kept rate-limiting', retryAfterMs: 10_000, throttled: true }
    ])
  })

  it('writes in calls of at most 100 records', async () => {
    const { list } = items(Array.from({ length: 250 }, (_, i) => `u${i}@x.io`))
    const sizes: number[] = []
    await writeInBatches(list, async (inputs) => {
      sizes.push(inputs.length)
      return ok(inputs)
    })
    expect(sizes).toEqual([100, 100, 50])
  })

  it('an authentication failure is not a per-record problem: it is thrown', async () => {
    const { list } = items(['a@x.io'])
    await expect(
      writeInBatches(list, async () => {
        throw new HubSpotRequestError('POST /x', 401, { category: 'INVALID_AUTHENTICATION', message: 'Authentication credentials not found' })
      })
    ).rejects.toThrow('answered 401 INVALID_AUTHENTICATION')
  })
})
