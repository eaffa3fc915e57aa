/**
 * The body of `dist/transformation.js`: the build puts PQLKIT_MODEL and PQLKIT_SETTINGS (what
 * the user pastes) above it, and RudderStack's sandbox provides the globals.
 */
import { pqlkit } from '../transform-event'
import type { FetchV2 } from '../sandbox'
import type { Settings } from '../settings'

declare const PQLKIT_MODEL: unknown
declare const PQLKIT_SETTINGS: Settings
declare const fetchV2: FetchV2
declare const getCredential: (key: string) => unknown

const run = pqlkit(PQLKIT_MODEL, PQLKIT_SETTINGS, {
  fetchV2: (url, init) => fetchV2(url, init),
  getCredential: (key) => getCredential(key)
})

/** Awaits `run`, so an error raised after an await keeps this frame (RudderStack cuts its stack here). */
export async function transformEvent(event: unknown, metadata?: unknown) {
  return await run(event, metadata)
}
