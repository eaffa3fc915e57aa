import { createServer, IncomingMessage } from 'node:http'
import { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { deliverIdentifies, DestinationReport, HubSpotConnection } from './hubspot-destination'
import type { RunOptions, RunReport, TransformerEvent, TransformerResult } from './sandbox'
import type { Transformer } from './transformer'

export type DataPlaneOptions = {
  writeKey: string
  transformer: Transformer
  /** The transformation's code and its connection's credentials. */
  code: string
  credentials: Record<string, string>
  /** Where RudderStack's HubSpot destination delivers (the emulator). */
  hubspot: HubSpotConnection
  /** Events per transformation batch (RudderStack's processor: 200). */
  batchSize?: number
}

export type DataPlane = {
  url: string
  /** Every event as the transformation received it (timestamps set as RudderStack sets them). */
  received: Record<string, unknown>[]
  /** Every outcome the transformer reported, per event. */
  results: TransformerResult[]
  batches: RunReport[]
  /** What the HubSpot destination could not deliver. */
  deliveryErrors: string[]
  /** Resolves when every received event went through the transformation and its output was delivered. */
  drained(): Promise<void>
  stop(): Promise<void>
}

/**
 * A RudderStack data plane, cut down to what pqlkit meets: `POST /v1/batch` with the source's
 * write key (Basic auth) and a gzipped body, as rudder-sdk-node sends it; the gateway's time
 * fields (`receivedAt`, and `timestamp` corrected for the client's clock: receivedAt − (sentAt −
 * originalTimestamp)); the processor's user transformation in batches of 200 with each event's
 * metadata; and the HubSpot destination delivering the transformation's identifies
 * (`deliverIdentifies`). Each batch is delivered before the next is transformed.
 */
export async function startDataPlane(options: DataPlaneOptions): Promise<DataPlane> {
  const batchSize = options.batchSize ?? 200
  const queue: TransformerEvent[] = []
  const plane: Omit<DataPlane, 'url' | 'drained' | 'stop'> = { received: [], results: [], batches: [], deliveryErrors: [] }
  let work = Promise.resolve()
  let sequence = 0

  const processQueue = async () => {
    while (queue.length > 0) {
      const { report, destination } = await transformAndDeliver(options, queue.splice(0, batchSize))
      plane.batches.push(report)
      plane.results.push(...report.results)
      plane.deliveryErrors.push(...destination.undelivered.map(({ error }) => error))
    }
  }

  const server = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/v1/batch') {
      response.writeHead(404).end()
      return
    }
    const expected = `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}`
    if (request.headers.authorization !== expected) {
      response.writeHead(401).end('Invalid Authorization Header')
      return
    }
    readBody(request).then(
      (raw) => {
        const receivedAt = Date.now()
        const body = JSON.parse((request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as {
          batch: Record<string, unknown>[]
          sentAt?: string
        }
        for (const message of body.batch) {
          const enriched: Record<string, unknown> = { ...message, receivedAt: new Date(receivedAt).toISOString(), timestamp: gatewayTimestamp(message, body.sentAt, receivedAt) }
          plane.received.push(enriched)
          queue.push(processorEvent(enriched, ++sequence))
        }
        response.writeHead(200).end('OK')
        work = work.then(processQueue)
      },
      () => response.writeHead(400).end()
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    ...plane,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    drained: async () => {
      for (let settled; settled !== work; ) await (settled = work)
    },
    stop: () => new Promise((resolve) => server.close(() => resolve()))
  }
}

/** An event as RudderStack's processor hands it to the transformation: the message and its job's metadata. */
export function processorEvent(message: Record<string, unknown>, jobId: number, sourceId = 'source-1'): TransformerEvent {
  return {
    message,
    metadata: {
      messageId: message.messageId,
      sourceId,
      destinationId: 'hubspot-1',
      workspaceId: 'workspace-1',
      eventName: message.event,
      eventType: message.type,
      jobId
    }
  }
}

/** One batch through the processor's user transformation, then its identifies through the HubSpot destination. */
export async function transformAndDeliver(
  options: { transformer: Transformer; code: string; credentials: Record<string, string>; hubspot: HubSpotConnection; run?: RunOptions },
  batch: TransformerEvent[]
): Promise<{ report: RunReport; destination: DestinationReport }> {
  const report = await options.transformer.run(options.code, batch, options.credentials, options.run)
  return { report, destination: await deliverIdentifies(options.hubspot, identifiesOf(report)) }
}

/** The identifies a transformation handed back, which the router delivers to the HubSpot destination. */
export function identifiesOf(report: RunReport): Record<string, unknown>[] {
  return report.results.flatMap((result) => (result.statusCode === 200 && result.output.type === 'identify' ? [result.output] : []))
}

/**
 * One processor request holding the events of several sources, as rudder-transformer's user
 * transformation service takes it: grouped by destination and source, the groups run at the
 * same time, each in an isolate of its own. One report per group, in the order the groups
 * first appear.
 */
export async function transformRequest(
  options: { transformer: Transformer; code: string; credentials: Record<string, string>; run?: RunOptions },
  events: TransformerEvent[]
): Promise<RunReport[]> {
  const groups = new Map<string, TransformerEvent[]>()
  for (const event of events) {
    const key = `${String(event.metadata.destinationId)}_${String(event.metadata.sourceId)}`
    groups.set(key, [...(groups.get(key) ?? []), event])
  }
  return Promise.all([...groups.values()].map((group) => options.transformer.run(options.code, group, options.credentials, options.run)))
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

function gatewayTimestamp(message: Record<string, unknown>, sentAt: unknown, receivedAt: number): string {
  const original = Date.parse(String(message.originalTimestamp ?? ''))
  const sent = Date.parse(String(message.sentAt ?? sentAt ?? ''))
  return new Date(Number.isFinite(original) && Number.isFinite(sent) ? receivedAt - (sent - original) : receivedAt).toISOString()
}
