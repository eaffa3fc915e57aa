import { generateEvents, SegmentMessage } from '@pqlkit/core'

/** Reference streams of the benchmarks: seeded, so every run measures the same events. */
export const END = '2026-11-01T00:00:00.000Z'
const MINUTE = 60_000

/**
 * `users` contacts over `days` days, made `events` long: the generator's product story,
 * with each track event repeated (new message id, a few minutes later) as often as needed
 * for the requested density. Sorted by time, as hosts deliver.
 */
export function referenceStream(users: number, events: number, seed = 7, days = 30): SegmentMessage[] {
  const base = generateEvents({ profile: 'project-management', users, days, end: END, seed })
  const tracks = base.filter((message) => message.type === 'track').length
  const copies = Math.max(1, Math.ceil((events - (base.length - tracks)) / tracks))
  const end = Date.parse(END)
  const stream: SegmentMessage[] = []
  for (const message of base) {
    if (message.type !== 'track') {
      stream.push(message)
      continue
    }
    for (let copy = 0; copy < copies; copy++) {
      const at = Math.min(end - 1, Date.parse(message.timestamp) + copy * 3 * MINUTE)
      stream.push(copy === 0 ? message : { ...message, messageId: `${message.messageId}-${copy}`, timestamp: new Date(at).toISOString() })
    }
  }
  stream.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
  return stream.slice(0, events)
}

export function batches<T>(items: T[], size: number): T[][] {
  const result: T[][] = []
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size))
  return result
}
