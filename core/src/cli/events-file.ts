import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { resolve } from 'node:path'
import { orderScreened, Played, ReplayInput, Screened, screenEvent, Visit } from '../engine/simulate'
import { compareReplayOrder, ProductEvent, revalidatedEvent, ValidEvent } from '../engine/event'
import { cannotRead, Io, parseEventLine } from './io'

export type EventLine = { line: number; event: ProductEvent }
export type EventsFile = { events: EventLine[]; errors: { line: number; message: string }[] }

/** JSON Lines in Segment's spec (SPEC §7), held in memory. Bad lines are reported by number and skipped. */
export function readEvents(io: Io, path: string): EventsFile {
  const result: EventsFile = { events: [], errors: [] }
  const fd = open(io, path)
  try {
    forEachLine(fd, (text, line) => {
      if (text.trim() === '') return
      const read = parseEventLine(text)
      if (typeof read === 'string') result.errors.push({ line, message: read })
      else result.events.push({ line, event: read })
    })
  } finally {
    closeSync(fd)
  }
  return result
}

/**
 * An events file for `simulate` and `backtest`, streamed rather than held. A file in time
 * order (as hosts export and `pqlkit generate` write it) is read once: each line screened
 * (`screenEvent`) and handed to the replay, events of one time in messageId order. When a
 * valid event is dated before one handed over, the replay starts over and the file is read
 * twice: a first pass screens every line and keeps, per valid event, its sort key and where
 * its line is; the second reads the valid lines again in replay order. Memory grows with the
 * subjects, and in the second case with the number of events by a key each (about 100
 * bytes), never by the events. In the replay's results, an event's `index` is its line
 * number; progress is counted in bytes.
 * `errors` and `lines` are filled in as the file is read.
 */
export type StreamedEvents = {
  input: ReplayInput
  /** Lines that are not JSON, or not an event pqlkit can read. */
  errors: { line: number; message: string }[]
  /** The lines that are not blank. */
  lines: number
}

type Key = { at: number; messageId: string; line: number; offset: number; length: number }

const CHUNK = 1 << 20
const NEWLINE = 0x0a

function open(io: Io, path: string): number {
  try {
    return openSync(resolve(io.cwd, path), 'r')
  } catch (error) {
    throw cannotRead('events file', path, error)
  }
}

/** Each line of the file with its number and byte range, read a chunk at a time (a line may span chunks). */
function forEachLine(fd: number, visit: (text: string, line: number, offset: number, length: number) => void): void {
  let buffer = Buffer.alloc(CHUNK)
  let held = 0
  let position = 0
  let line = 1
  for (;;) {
    if (held === buffer.length) {
      const larger = Buffer.alloc(buffer.length * 2)
      buffer.copy(larger, 0, 0, held)
      buffer = larger
    }
    const read = readSync(fd, buffer, held, buffer.length - held, null)
    const end = held + read
    let start = 0
    for (let at = buffer.indexOf(NEWLINE, held); at !== -1 && at < end; at = buffer.indexOf(NEWLINE, start)) {
      visit(buffer.toString('utf8', start, at), line++, position + start, at - start)
      start = at + 1
    }
    if (read === 0) {
      visit(buffer.toString('utf8', start, end), line, position + start, end - start)
      return
    }
    buffer.copy(buffer, 0, start, end)
    position += start
    held = end - start
  }
}

/**
 * Lines by byte range, read from the file through a window: a read serves the lines after it
 * too (the file in time order, as hosts write it, is read once more from start to end), and
 * stays small while lines come from all over the file.
 */
class LineReader {
  private buffer = Buffer.alloc(4096)
  private start = 0
  private end = 0
  private hits = 0

  constructor(private readonly fd: number) {}

  read(offset: number, length: number): string {
    if (offset < this.start || offset + length > this.end) {
      const size = Math.max(length, this.hits > 1 ? 256 * 1024 : 4096)
      if (this.buffer.length < size) this.buffer = Buffer.alloc(size)
      this.start = offset
      this.end = offset + readSync(this.fd, this.buffer, 0, size, offset)
      this.hits = 0
    }
    this.hits++
    return this.buffer.toString('utf8', offset - this.start, offset - this.start + length)
  }
}

/** Thrown out of the single read when a valid event is dated before one handed over. */
class OutOfOrder {}

export function streamEvents(io: Io, path: string): StreamedEvents {
  const file: StreamedEvents = {
    errors: [],
    lines: 0,
    input: {
      play: (now, start, onProgress) => {
        try {
          return readOnce(io, path, file, now, start(), onProgress)
        } catch (error) {
          if (!(error instanceof OutOfOrder)) throw error
          return readTwice(io, path, file, now, start(), onProgress)
        }
      }
    }
  }
  return file
}

/** Each line that is not blank as a screened event (or a line error noted in `file`), with its number and byte range. */
function screenLines(
  io: Io,
  path: string,
  file: StreamedEvents,
  visit: (screened: Screened, line: number, offset: number, length: number) => void,
  onProgress?: (done: number, total: number) => void
): void {
  file.errors = []
  file.lines = 0
  const fd = open(io, path)
  try {
    const size = fstatSync(fd).size
    forEachLine(fd, (text, line, offset, length) => {
      if (text.trim() === '') return
      if (file.lines++ % 1000 === 0) onProgress?.(offset, size)
      const event = parseEventLine(text)
      if (typeof event === 'string') file.errors.push({ line, message: event })
      else visit(screenEvent(event, line), line, offset, length)
    })
    onProgress?.(size, size)
  } finally {
    closeSync(fd)
  }
}

/**
 * The single read of a file in time order; throws OutOfOrder at the first event dated
 * before one handed over. Events of the same time are held until a later time comes and
 * handed over in messageId order (then input order), as the replay orders them: a host's
 * export often has them in any order.
 */
function readOnce(io: Io, path: string, file: StreamedEvents, now: number | undefined, visit: Visit, onProgress?: (done: number, total: number) => void): Played {
  const rejections: Screened[] = []
  let endOfData = 0
  let afterNow = 0
  let sameTime: { event: ValidEvent; line: number }[] = []
  const handOver = () => {
    if (sameTime.length > 1) sameTime.sort((a, b) => compareReplayOrder(a.event, b.event))
    for (const { event, line } of sameTime) visit(event, line)
    sameTime = []
  }
  screenLines(io, path, file, (screened, line) => {
    if (screened.at > endOfData) endOfData = screened.at
    const event = screened.event
    if (!event) rejections.push(screened)
    else if (now !== undefined && event.at > now) afterNow++
    else {
      const held = sameTime.length === 0 ? undefined : sameTime[0].event.at
      if (held !== undefined && event.at < held) throw new OutOfOrder()
      if (held !== undefined && event.at > held) handOver()
      sameTime.push({ event, line })
    }
  }, onProgress)
  handOver()
  const ordered = orderScreened([], rejections, now ?? endOfData)
  return { endOfData, rejected: ordered.rejected, afterNow: afterNow + ordered.afterNow }
}

/** The two passes over a file out of replay order: keys first, then the valid lines again in replay order. */
function readTwice(io: Io, path: string, file: StreamedEvents, now: number | undefined, visit: Visit, onProgress?: (done: number, total: number) => void): Played {
  const keys: Key[] = []
  const rejections: Screened[] = []
  let endOfData = 0
  let size = 0
  screenLines(io, path, file, (screened, line, offset, length) => {
    if (screened.at > endOfData) endOfData = screened.at
    if (screened.event) keys.push({ at: screened.at, messageId: screened.event.messageId, line, offset, length })
    else rejections.push(screened)
  }, (done, total) => onProgress?.(done / 2, (size = total)))
  const ordered = orderScreened(keys, rejections, now ?? endOfData)
  let done = 0
  for (const { event, index } of replayed(io, path, ordered.keys)) {
    if (done++ % 1000 === 0) onProgress?.(size / 2 + (size / 2) * (done / ordered.keys.length), size)
    visit(event, index)
  }
  onProgress?.(size, size)
  return { endOfData, rejected: ordered.rejected, afterNow: ordered.afterNow }
}

/**
 * The second pass: each valid line again, in replay order. The first pass validated it
 * before `now` was known, which gives the same verdict and event for every event up to
 * `now` (`screenEvent`), so it is not validated again.
 */
function* replayed(io: Io, path: string, keys: Key[]): Generator<{ event: ValidEvent; index: number }> {
  const fd = open(io, path)
  try {
    const reader = new LineReader(fd)
    for (const key of keys) {
      const event = parseEventLine(reader.read(key.offset, key.length)) as ProductEvent
      yield { event: revalidatedEvent(event, key.at), index: key.line }
    }
  } finally {
    closeSync(fd)
  }
}
