import type { Model } from '../model/compile'
import { DefaultHandoffSender, HandoffSender, SenderOptions } from '../handoff/sender'
import type { HubSpotCalls } from '../hubspot/api'
import { ContactSink, HandBackContactSink, HubSpotContactSink } from './contact-sink'
import type { KeyedLock } from './keyed-lock'
import { HubSpotStateStore, StateStore } from './state-store'
import { Pipeline } from './sync'

export type PipelineSettings = {
  model: Model
  /** pqlkit's HubSpot calls: `officialHubSpotApi(config, transport)` in Node, `new HubSpotApi(config, transport, fetch)` in a sandbox. */
  api: HubSpotCalls
  /**
   * Hand-offs are sent when given: the sender's options (Slack posts through `post`, tasks
   * through `api`), or a sender of the host's own. Without it they are evaluated and marked, never sent.
   */
  handoffs?: Omit<SenderOptions, 'api'> | HandoffSender
  /** Contacts known by email are handed back to the host's own HubSpot destination, not written. */
  handBackContacts?: boolean
  /**
   * Whether reads ask for the contribution log's history and repair what a concurrent write
   * overwrote (default true). `false` halves a backfill's reads; the next read with history
   * repairs instead (HubSpotStateStore).
   */
  repairOnRead?: boolean
  /** Where states live: HubSpot's `pqlkit_state` unless given (the server's database). */
  store?: StateStore
  /** Per-subject locks shared with other pipelines writing the same portal in this process (a model that grows). */
  locks?: KeyedLock
}

/** The one wiring of a pipeline, used by every host and the CLI: state store, contact sink, hand-off sender. */
export function createPipeline({ model, api, handoffs, handBackContacts, repairOnRead = true, locks, store }: PipelineSettings): Pipeline {
  const hubspotSink: ContactSink = new HubSpotContactSink(api)
  return new Pipeline({
    api,
    model,
    store: store ?? new HubSpotStateStore(api, model, repairOnRead),
    sink: handBackContacts ? new HandBackContactSink(hubspotSink) : hubspotSink,
    sender: handoffs === undefined ? undefined : 'send' in handoffs ? handoffs : new DefaultHandoffSender({ ...handoffs, api }),
    leftOut: new Set()
  }, locks)
}
