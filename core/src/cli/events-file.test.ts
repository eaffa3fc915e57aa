import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scoreAtReference } from '../backtest/reference-scores'
import { compareReplayOrder } from '../engine/event'
import { simulate } from '../engine/simulate'
import { generateOutcomes } from '../generator/generate-events'
import { segmentMessageToProductEvent } from '../hosts/segment-message'
import { loadModel } from '../model/load'
import { streamEvents } from './events-file'
import type { Io } from './io'

const END = '2026-11-01T00:00:00.000Z'
const DAY = 86_400_000
const model = loadModel(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'project-management.yaml'), 'utf8'), 'project-management.yaml')
const { messages, outcomes } = generateOutcomes({ profile: 'project-management', users: 40, days: 30, end: END, seed: 5 })
const events = messages.map((message) => segmentMessageToProductEvent(message))
const inOrder = messages
  .map((message, position) => ({ message, event: events[position] }))
  .sort((a, b) => compareReplayOrder({ at: Date.parse(a.event.timestamp), messageId: a.event.messageId }, { at: Date.parse(b.event.timestamp), messageId: b.event.messageId }))
  .map(({ message }) => message)
const io = { cwd: mkdtempSync(join(tmpdir(), 'pqlkit-events-file-')) } as Io

/** The messages as JSON Lines, with a line that is not JSON and an event without identity in the middle. */
function file(name: string, lines: object[]): string {
  const text = lines.map((message) => JSON.stringify(message))
  text.splice(100, 0, '{not json', JSON.stringify({ type: 'track', event: 'x', messageId: 'no-identity', timestamp: '2026-10-20T00:00:00.000Z' }))
  writeFileSync(join(io.cwd, name), `${text.join('\n')}\n`)
  return name
}

/** The file as a replay's input, with how often the replay was started. */
function streamed(name: string) {
  const read = streamEvents(io, name)
  let starts = 0
  const play = read.input.play
  read.input.play = (now, start, onProgress) => play(now, () => (starts++, start()), onProgress)
  return { read, starts: () => starts }
}

const ofSubjects = ({ subjects, now, afterNow, rejected }: ReturnType<typeof simulate>) => ({ subjects, now, afterNow, rejected: rejected.length })

describe('an events file in replay order is read once, one out of order twice, and both replay alike', () => {
  const shuffled = [...inOrder].reverse()
  const expected = ofSubjects(simulate(model, events))

  it('in order: one replay, the same subjects as the events in memory, rejections by line number', () => {
    const { read, starts } = streamed(file('in-order.jsonl', inOrder))
    const result = simulate(model, read.input)
    expect(ofSubjects(result)).toEqual({ ...expected, rejected: 1 })
    expect(starts()).toBe(1)
    expect(read.lines).toBe(inOrder.length + 2)
    expect(read.errors).toEqual([{ line: 101, message: 'not valid JSON' }])
    expect(result.rejected.map(({ index }) => index)).toEqual([102])
  })

  it('events of one time in any messageId order: still one replay, in messageId order', () => {
    // Every event of a day at the same millisecond, written in falling messageId order.
    const day = (message: (typeof inOrder)[number]) => `${message.timestamp.slice(0, 10)}T12:00:00.000Z`
    const tied = inOrder.map((message) => ({ ...message, timestamp: day(message) }))
    const written = [...tied].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.messageId < b.messageId ? 1 : -1))
    const { read, starts } = streamed(file('tied.jsonl', written))
    expect(ofSubjects(simulate(model, read.input))).toEqual({ ...ofSubjects(simulate(model, tied.map((message) => segmentMessageToProductEvent(message)))), rejected: 1 })
    expect(starts()).toBe(1)
  })

  it('out of order: started again and read twice, with the same outcome', () => {
    const { read, starts } = streamed(file('shuffled.jsonl', shuffled))
    expect(ofSubjects(simulate(model, read.input))).toEqual({ ...expected, rejected: 1 })
    expect(starts()).toBe(2)
    expect(read.lines).toBe(inOrder.length + 2)
    expect(read.errors).toHaveLength(1)
  })

  it('with a --now before the end: the events after it are counted, not applied, either way', () => {
    const now = Date.parse(END) - 5 * DAY
    const early = ofSubjects(simulate(model, events, now))
    expect(early.afterNow).toBeGreaterThan(0)
    for (const name of [file('in-order.jsonl', inOrder), file('shuffled.jsonl', shuffled)]) {
      expect(ofSubjects(simulate(model, streamEvents(io, name).input, now))).toEqual({ ...early, rejected: 1 })
    }
  })

  it('a backtest scores the same from the file in order, out of order, and in memory', () => {
    const rows = outcomes.map((outcome, index) => ({ line: index + 2, id: outcome.email, convertedAt: outcome.convertedAt === undefined ? undefined : Date.parse(outcome.convertedAt) }))
    const options = { subject: 'contact' as const, leadMs: 2 * DAY }
    const scored = ({ subjects, endOfData }: ReturnType<typeof scoreAtReference>) => ({ subjects, endOfData })
    const expectedScores = scored(scoreAtReference(model, events, rows, options))
    expect(expectedScores.subjects.some((subject) => subject.converted)).toBe(true)
    const progress: [number, number][] = []
    const fromFile = scoreAtReference(model, streamEvents(io, file('in-order.jsonl', inOrder)).input, rows, { ...options, onProgress: (done, total) => progress.push([done, total]) })
    expect(scored(fromFile)).toEqual(expectedScores)
    expect(scored(scoreAtReference(model, streamEvents(io, file('shuffled.jsonl', shuffled)).input, rows, options))).toEqual(expectedScores)
    // Progress in bytes of the file, up to all of it.
    expect(progress[progress.length - 1]).toEqual([progress[0][1], progress[0][1]])
  })
})
