/**
 * The body of `dist/library.js`, a RudderStack transformation library:
 *
 *   import { pqlkit } from "pqlkit";
 *   const run = pqlkit(MODEL, { portalId: 123456 });
 *   export function transformEvent(event, metadata) { return run(event, metadata); }
 */
import { pqlkit as withSandbox, TransformEvent } from '../transform-event'
import type { FetchV2 } from '../sandbox'
import type { Settings } from '../settings'

declare const fetchV2: FetchV2
declare const getCredential: (key: string) => unknown

export function pqlkit(model: unknown, settings: Settings = {}): TransformEvent {
  return withSandbox(model, settings, {
    fetchV2: (url, init) => fetchV2(url, init),
    getCredential: (key) => getCredential(key)
  })
}
