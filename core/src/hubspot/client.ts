import { Client } from '@hubspot/api-client'
import { FetchLike, HubSpotApi, HubSpotConfig } from './api'
import type { Transport } from './transport'

/**
 * The official `@hubspot/api-client`, one per process (SPEC §5). Its retry and limiter
 * decorators are process-wide, so pqlkit creates it once with both off and does its own
 * (transport.ts). pqlkit's calls go through the client's own request stack
 * (`Client.apiRequest`: its HTTP agent, headers and decorators) with the paths and bodies of
 * `CALLS`, so they are written once for the client and the sandboxes' `fetch` alike. Which
 * portal a call goes to is not client state: every call carries its token and full URL, so
 * one process can serve several portals at once (a destination runtime does) without one call
 * ever using another's token.
 */
let shared: Client | undefined

function sharedClient(): Client {
  shared ??= new Client({ numberOfApiCallRetries: 0 })
  return shared
}

/** `fetch` over the official client's `apiRequest` (node-fetch underneath; the answer is a fetch Response). */
const officialFetch: FetchLike = (url, init) =>
  sharedClient().apiRequest({ method: init.method, overlapUrl: url, headers: init.headers, body: init.body, defaultJson: false })

/** pqlkit's HubSpot calls on the official client. */
export function officialHubSpotApi(config: HubSpotConfig, transport: Transport): HubSpotApi {
  return new HubSpotApi(config, transport, officialFetch)
}
