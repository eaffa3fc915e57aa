import { request } from 'node:https'
import { HandoffError, PostJson } from './sender'

/** POSTs JSON with Node's https (10 s timeout). Errors name the failure, never the URL. */
export const httpsPostJson: PostJson = (url, body) =>
  new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 },
      (response) => {
        response.resume()
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }))
      }
    )
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })))
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      reject(new HandoffError(`Slack could not be reached (${error.code ?? 'network error'})`))
    )
    outgoing.end(body)
  })
