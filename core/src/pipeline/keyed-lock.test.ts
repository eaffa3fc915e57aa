import { KeyedLock } from './keyed-lock'

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('per-subject serialisation', () => {
  it('a batch sharing a subject waits for the earlier one; others run at once', async () => {
    const lock = new KeyedLock()
    const order: string[] = []
    const releaseA = await lock.acquire(['ada@acme.io', 'bob@acme.io'])
    const b = lock.acquire(['bob@acme.io']).then((release) => {
      order.push('b')
      release()
    })
    const c = lock.acquire(['cy@globex.com']).then((release) => {
      order.push('c')
      release()
    })
    await tick()
    expect(order).toEqual(['c'])
    order.push('a done')
    releaseA()
    await Promise.all([b, c])
    expect(order).toEqual(['c', 'a done', 'b'])
    expect(lock.size).toBe(0)
  })

  it('three batches on one subject run in arrival order', async () => {
    const lock = new KeyedLock()
    const order: number[] = []
    await Promise.all(
      [1, 2, 3].map(async (n) => {
        const release = await lock.acquire(['ada@acme.io'])
        await tick()
        order.push(n)
        release()
      })
    )
    expect(order).toEqual([1, 2, 3])
  })
})
