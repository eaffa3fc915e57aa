/**
 * Injected by the build in place of globals RudderStack's sandbox does not have, which bundled
 * code names on paths the transformation never takes: zod's URL, base64 and file checks (the
 * model schema uses none of them), the core's default timer clock and the sweep's default
 * sleep (the transformation passes its own clock and never sweeps). Reaching one fails with a
 * clear message instead of a ReferenceError; `navigator` stays undefined, as its checks expect.
 */
function missing(name: string): never {
  throw new Error(`${name} is not available in RudderStack's transformation sandbox`)
}

export const setTimeout = (): never => missing('setTimeout')
export const performance = { timeOrigin: 0, now: (): never => missing('performance') }
export const atob = (): never => missing('atob')
export const btoa = (): never => missing('btoa')
export class URL {
  constructor() {
    missing('URL')
  }
}
export class File {}
export const navigator = undefined
