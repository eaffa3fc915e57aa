/**
 * One Segment destination instance as Segment's integrations runtime holds it, in a process
 * of its own: the real destination definition (destinations/segment) in actions-core's
 * `Destination`, whose `onBatch` runs the subscriptions' `performBatch`. Its caches (the
 * pipeline per settings, the official client, the bootstrap) are this process's alone.
 * Started by ./instances.ts with the preload (frozen Date, faked Slack); `HUBSPOT_BASE_URL`
 * points it at the emulator.
 */
import { Destination, JSONObject, SegmentEvent } from '@segment/actions-core'
import definition from '@pqlkit/segment-destination'

export type BatchRequest = { id: number; events: SegmentEvent[]; settings: JSONObject }
export type BatchAnswer = { id: number; results?: { multistatus?: { status: number; errormessage?: string }[] }[]; error?: string }

const destination = new Destination(definition)

process.on('message', (request: BatchRequest) => {
  destination.onBatch(request.events, request.settings).then(
    (results) => {
      // As Segment reads them: each subscription's multistatus (or none), plain over IPC.
      const plain = (results as { multistatus?: { status: number; errormessage?: string }[] }[]).map((result) => ({
        multistatus: result.multistatus?.map(({ status, errormessage }) => ({ status, errormessage }))
      }))
      process.send!({ id: request.id, results: plain } satisfies BatchAnswer)
    },
    (error: unknown) => process.send!({ id: request.id, error: String((error as Error)?.stack ?? error) } satisfies BatchAnswer)
  )
})
process.send!({ ready: true })
