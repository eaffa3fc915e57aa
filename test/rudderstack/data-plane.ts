import { createServer, IncomingMessage } from 'node:http'
import { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import type { RunReport, TransformerEvent, TransformerResult } from './sandbox'
import type { Transformer } from './transformer'

export type DataPlaneOptions = {
  writeKey: string
  transformer: Transformer
  /** The transformation's code and its connection's credentials. */
  code: string
  credentials: Record<string, string>
  /** Where RudderStack's HubSpot destination delivers (the emulator). */
  hubspot: { url: string; accessToken: string }
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

const DESTINATION_BATCH = 100

/**
 * A RudderStack data plane, cut down to what pqlkit meets: `POST /v1/batch` with the source's
 * write key (Basic auth) and a gzipped body, as rudder-sdk-node sends it; the gateway's time
 * fields (`receivedAt`, and `timestamp` corrected for the client's clock: receivedAt − (sentAt −
 * originalTimestamp)); the processor's user transformation in batches of 200 with each event's
 * metadata; and the HubSpot destination delivering the transformation's identifies as a batch
 * upsert by email, 100 per call. Each batch is delivered before the next is transformed.
 */
export async function startDataPlane(options: DataPlaneOptions): Promise<DataPlane> {
  const batchSize = options.batchSize ?? 200
  const queue: TransformerEvent[] = []
  const plane: Omit<DataPlane, 'url' | 'drained' | 'stop'> = { received: [], results: [], batches: [], deliveryErrors: [] }
  let work = Promise.resolve()
  let sequence = 0

  const processQueue = async () => {
    while (queue.length > 0) {
      const batch = queue.splice(0, batchSize)
      const report = await options.transformer.run(options.code, batch, options.credentials)
      plane.batches.push(report)
      plane.results.push(...report.results)
      const identifies = report.results.flatMap((result) => (result.statusCode === 200 && result.output.type === 'identify' ? [result.output] : []))
      await deliver(identifies)
    }
  }

  const deliver = async (identifies: Record<string, unknown>[]) => {
    for (let start = 0; start < identifies.length; start += DESTINATION_BATCH) {
      const inputs = identifies.slice(start, start + DESTINATION_BATCH).map((identify) => {
        const traits = identify.traits as Record<string, unknown>
        const properties = Object.fromEntries(Object.entries(traits).map(([name, value]) => [name, String(value)]))
        return { idProperty: 'email', id: String(traits.email), properties }
      })
      const response = await fetch(`${options.hubspot.url}/crm/v3/objects/contacts/batch/upsert`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.hubspot.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs })
      })
      if (response.status !== 200) plane.deliveryErrors.push(`HubSpot answered ${response.status}: ${(await response.text()).slice(0, 300)}`)
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
          queue.push({
            message: enriched,
            metadata: {
              messageId: enriched.messageId,
              sourceId: 'source-1',
              destinationId: 'hubspot-1',
              workspaceId: 'workspace-1',
              eventName: enriched.event,
              eventType: enriched.type,
              jobId: ++sequence
            }
          })
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
