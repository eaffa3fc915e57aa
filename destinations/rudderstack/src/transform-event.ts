import type { ProductEvent } from '@pqlkit/core/dist/engine/event'
import { ValidationError } from '@pqlkit/core/dist/engine/errors'
import type { Model } from '@pqlkit/core/dist/model/compile'
import { parseModel } from '@pqlkit/core/dist/model/load'
import { FetchHubSpotApi } from '@pqlkit/core/dist/hubspot/fetch-api'
import { HandedBackContact, HubSpotSync } from '@pqlkit/core/dist/hubspot/sync'
import { Transport } from '@pqlkit/core/dist/hubspot/transport'
import { DefaultHandoffSender } from '@pqlkit/core/dist/handoff/sender'
import { fetchFromFetchV2, Sandbox, SANDBOX_CLOCK, SANDBOX_RETRY } from './sandbox'
import { Settings, TOKEN_CREDENTIAL } from './settings'
import { isScored, toProductEvent } from './to-product-event'

/** An `identify` for RudderStack's HubSpot destination: the contact's changed properties, absolute, as traits. */
export type IdentifyOutput = {
  type: 'identify'
  messageId: string
  userId?: string
  anonymousId?: string
  timestamp: string
  context: { traits: { email: string } }
  traits: Record<string, string>
}

/** RudderStack's `transformEvent(event, metadata)`: an identify, null (nothing for HubSpot), or a throw (this event failed). */
export type TransformEvent = (event: unknown, metadata?: unknown) => Promise<IdentifyOutput | null>

type Pending = { message: unknown; resolve: (output: IdentifyOutput | null) => void; reject: (error: Error) => void }

/**
 * RudderStack calls `transformEvent` for every event of a batch at once (its wrapper maps the
 * batch to concurrent calls). The calls made in one turn are gathered and run through the core
 * as one batch: one HubSpot read per 100 contacts instead of one per event, one identify per
 * changed contact, and each event still gets its own outcome, as only `transformEvent` allows
 * (a `transformBatch` cannot fail one event without failing all).
 */
export function pqlkit(modelDocument: unknown, settings: Settings, sandbox: Sandbox): TransformEvent {
  let model: Model | undefined
  let gathering: Pending[] | undefined
  return (message) =>
    new Promise<IdentifyOutput | null>((resolve, reject) => {
      if (gathering === undefined) {
        const batch: Pending[] = (gathering = [])
        Promise.resolve().then(async () => {
          gathering = undefined
          try {
            model ??= parseModel(modelDocument, 'PQLKIT_MODEL')
            await runBatch(model, settings, sandbox, batch)
          } catch (error) {
            // Settled events keep their outcome; the rest fail with the batch's one clear reason.
            const failure = new Error(`pqlkit: ${(error as Error).message}`)
            for (const pending of batch) pending.reject(failure)
          }
        })
      }
      gathering.push({ message, resolve, reject })
    })
}

async function runBatch(model: Model, settings: Settings, sandbox: Sandbox, batch: Pending[]): Promise<void> {
  const now = Date.now()
  const events: ProductEvent[] = []
  const owners: Pending[] = []
  for (const pending of batch) {
    if (!isScored(pending.message)) {
      pending.resolve(null)
      continue
    }
    try {
      events.push(toProductEvent(pending.message))
      owners.push(pending)
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      pending.reject(new Error(`pqlkit: ${error.message}`))
    }
  }
  if (events.length === 0) return
  const token = sandbox.getCredential(TOKEN_CREDENTIAL)
  if (typeof token !== 'string' || token.trim() === '') {
    throw new Error(`the credential ${TOKEN_CREDENTIAL} is not set: add it under Settings → Credentials`)
  }
  const api = new FetchHubSpotApi(
    { accessToken: token.trim(), basePath: settings.hubspotBaseUrl },
    new Transport(SANDBOX_CLOCK, SANDBOX_RETRY),
    fetchFromFetchV2(sandbox.fetchV2)
  )
  const sender = new DefaultHandoffSender({
    post: async (url, body) => ({ status: (await sandbox.fetchV2(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status }),
    api,
    portalId: settings.portalId,
    defaultWebhook: settings.defaultSlackWebhook,
    allowedHosts: settings.slackHosts,
    now: () => now
  })
  const report = await new HubSpotSync(api, model, { sender, handBackContacts: true }).process(events, now)
  for (const problem of report.problems) sandbox.log(`pqlkit: ${problem}`)
  if (report.results.every((result) => result.status === 'retryable')) {
    const first = report.results[0]
    throw new Error(`HubSpot could not take this batch (${first.status === 'retryable' ? first.message : ''}); send the events again once it is back`)
  }

  // Each changed contact's identify rides on its last event that succeeded.
  const carried = new Map<number, HandedBackContact>()
  for (const contact of report.contacts ?? []) {
    const last = contact.events.filter((index) => report.results[index].status === 'ok').pop()
    if (last !== undefined) carried.set(last, contact)
  }
  report.results.forEach((result, index) => {
    const owner = owners[index]
    if (result.status === 'invalid') owner.reject(new Error(`pqlkit: ${result.message}`))
    else if (result.status === 'retryable') owner.reject(new Error(`pqlkit: HubSpot could not take this event (${result.message}); send it again later`))
    else {
      const contact = carried.get(index)
      owner.resolve(contact ? identify(contact, owner.message, events[index], now) : null)
    }
  })
}

function identify(contact: HandedBackContact, message: unknown, event: ProductEvent, now: number): IdentifyOutput {
  const anonymousId = (message as { anonymousId?: unknown }).anonymousId
  return {
    type: 'identify',
    messageId: `${event.messageId}-pqlkit`,
    ...(event.userId === undefined ? {} : { userId: event.userId }),
    ...(typeof anonymousId === 'string' ? { anonymousId } : {}),
    timestamp: new Date(now).toISOString(),
    context: { traits: { email: contact.email } },
    traits: { ...contact.properties, email: contact.email }
  }
}
