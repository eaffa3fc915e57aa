import { fingerprint } from './hash'

describe('fingerprint', () => {
  // Stored states hold these hashes (message ids, distinct values): a change of the function
  // would count every stored event again and every distinct value twice.
  it.each([
    ['', 'jl67o803'],
    ['a', 'p94epp1d'],
    ['msg-1', 'rx9x0dw9'],
    ['m1232', '00ooe0it'],
    ['Slack', 'q73r6fm3'],
    ['ajs-9f8e7d6c5b4a', 'wp1rphwt'],
    ['été 😀', 'vmvsbcik'],
    ['x'.repeat(300), 'jsmpz1pf']
  ])('hashes %j as it always has', (text, hash) => {
    expect(fingerprint(text)).toBe(hash)
  })
})
