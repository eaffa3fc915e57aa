import { createServer } from 'node:http'
import { request } from 'node:https'
import { AddressInfo } from 'node:net'

/** The header that carries the URL the transformation called. */
export const EGRESS_TARGET = 'x-pqlkit-egress-to'

export type Egress = { url: string; stop(): Promise<void> }

/**
 * The transformer process's way to hosts other than loopback (Slack webhooks). The runner
 * (`RunOptions.egress`) sends such a call here with its URL in `EGRESS_TARGET`; this server,
 * in the test's own process, makes it with Node's https and answers with what came back, so
 * the test's network stubs (nock) and its loopback-only guard apply to it.
 */
export async function startEgress(): Promise<Egress> {
  const server = createServer(async (incoming, answer) => {
    const fail = (status: number, message: string) => {
      if (!answer.headersSent) answer.writeHead(status, { 'content-type': 'text/plain' })
      answer.end(message)
    }
    const target = incoming.headers[EGRESS_TARGET]
    // Anything but one absolute URL is a call that did not come from the runner: answered, so the caller fails at once instead of waiting.
    if (typeof target !== 'string' || !URL.canParse(target)) {
      fail(400, `egress: ${incoming.method} ${incoming.url} has no URL in ${EGRESS_TARGET} (headers: ${Object.keys(incoming.headers).join(', ')})`)
      return
    }
    const chunks: Buffer[] = []
    for await (const chunk of incoming) chunks.push(chunk as Buffer)
    const headers = Object.fromEntries(Object.entries(incoming.headers).filter(([name]) => !['host', 'connection', EGRESS_TARGET].includes(name)))
    try {
      const outgoing = request(target, { method: incoming.method, headers }, (response) => {
        answer.writeHead(response.statusCode ?? 502, { 'content-type': response.headers['content-type'] ?? 'text/plain' })
        response.pipe(answer)
      })
      outgoing.on('error', (error) => fail(502, `egress: ${error.message}`))
      outgoing.end(Buffer.concat(chunks))
    } catch (error) {
      fail(502, `egress: ${(error as Error).message}`)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve()))
  }
}
