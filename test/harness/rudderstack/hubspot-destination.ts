/** Where RudderStack's HubSpot destination delivers (the emulator). */
export type HubSpotConnection = { url: string; accessToken: string }

/** An identify the destination could not deliver (RudderStack aborts its job), and HubSpot's reason. */
export type Undelivered = { identify: Record<string, unknown>; error: string }

export type DestinationReport = { undelivered: Undelivered[]; retried: number }

/** Identifies per HubSpot call: the v3 batch size, which the destination uses. */
const DESTINATION_BATCH = 100

/**
 * Calls per batch before RudderStack's router gives its jobs up. The router retries a 429, a
 * 5xx or a dropped connection with backoff for hours (3 h by default); ten calls stand for that
 * window here, without its waits (the emulator draws its faults per request, so waiting would
 * change nothing).
 */
export const ROUTER_ATTEMPTS = 10

/**
 * RudderStack's HubSpot destination (New API, lookup field email) delivering a transformation's
 * identifies: a batch upsert by email, 100 per call, each trait a property. The router retries
 * a call HubSpot answered 429 or 5xx, or did not answer, up to `ROUTER_ATTEMPTS`; any other
 * failure aborts the call's records. On a 207 the destination's response handler aborts the
 * records HubSpot names in `errors` and counts the others delivered (it matches them by
 * `objectWriteTraceId`; the emulator names them by the input's id, the email, as exact here
 * since a batch has one identify per email).
 */
export async function deliverIdentifies(hubspot: HubSpotConnection, identifies: Record<string, unknown>[]): Promise<DestinationReport> {
  const report: DestinationReport = { undelivered: [], retried: 0 }
  for (let start = 0; start < identifies.length; start += DESTINATION_BATCH) {
    const chunk = identifies.slice(start, start + DESTINATION_BATCH)
    const inputs = chunk.map((identify) => {
      const traits = identify.traits as Record<string, unknown>
      const properties = Object.fromEntries(Object.entries(traits).map(([name, value]) => [name, String(value)]))
      return { idProperty: 'email', id: String(traits.email), properties }
    })
    for (let attempt = 1; ; attempt++) {
      let status = 0
      let text = ''
      try {
        const response = await fetch(`${hubspot.url}/crm/v3/objects/contacts/batch/upsert`, {
          method: 'POST',
          headers: { authorization: `Bearer ${hubspot.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ inputs })
        })
        status = response.status
        text = await response.text()
      } catch (error) {
        text = `no answer (${(error as { cause?: { code?: string } }).cause?.code ?? 'network error'})`
      }
      if (status === 200) break
      if (status === 207) {
        const failed = new Map<string, string>()
        for (const error of (JSON.parse(text) as { errors: { message: string; context?: { ids?: string[] } }[] }).errors) {
          for (const id of error.context?.ids ?? []) failed.set(id, error.message)
        }
        chunk.forEach((identify, index) => {
          const error = failed.get(inputs[index].id)
          if (error !== undefined) report.undelivered.push({ identify, error: `HubSpot answered 207: ${error}` })
        })
        break
      }
      if ((status === 0 || status === 429 || status >= 500) && attempt < ROUTER_ATTEMPTS) {
        report.retried++
        continue
      }
      const reason = status === 0 ? `HubSpot gave ${text}` : `HubSpot answered ${status}: ${text.slice(0, 300)}`
      const error = attempt > 1 ? `${reason} (call ${attempt} of ${ROUTER_ATTEMPTS})` : reason
      report.undelivered.push(...chunk.map((identify) => ({ identify, error })))
      break
    }
  }
  return report
}
