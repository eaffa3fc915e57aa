/**
 * The body of `dist/function.js`: the build puts PQLKIT_MODEL (what the user pastes) above it
 * and the handler declarations Segment looks for below it; the Functions runtime provides
 * `fetch` (node-fetch) and the error classes.
 */
import type { FetchLike } from '@pqlkit/core/portable'
import { FunctionErrors, pqlkitFunction } from './handlers'

declare const PQLKIT_MODEL: unknown
declare const fetch: FetchLike
declare const RetryError: FunctionErrors['RetryError']
declare const ValidationError: FunctionErrors['ValidationError']
declare const EventNotSupported: FunctionErrors['EventNotSupported']
declare const InvalidEventPayload: FunctionErrors['InvalidEventPayload']

export const { onEvent, onBatch } = pqlkitFunction(PQLKIT_MODEL, {
  fetch: (url, init) => fetch(url, init),
  errors: { RetryError, ValidationError, EventNotSupported, InvalidEventPayload },
  warn: (line) => console.warn(line)
})
