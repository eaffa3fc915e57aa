import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Model } from '../model/compile'
import { segmentSubscription } from '../hosts/segment-mappings'
import { loadMappings, loadModel } from '../model/load'
import { ValidationError } from '../engine/errors'
import type { ProductEvent } from '../engine/event'
import { segmentMessageToProductEvent } from '../hosts/segment-message'
import { parseTimestamp } from '../time'

export type Output = { write(text: string): unknown; isTTY?: boolean }
export type Io = { stdout: Output; stderr: Output; cwd: string; env: Record<string, string | undefined> }

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org) or TERM=dumb. */
export function hasColour(io: Io, stream: Output): boolean {
  return stream.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb'
}

/** A problem the user must fix (exit 1), as opposed to a wrong command line (exit 2). */
export class InputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InputError'
  }
}

/** A wrong command line: exit 2 with usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function readText(io: Io, path: string, what: string): string {
  try {
    return readFileSync(resolve(io.cwd, path), 'utf8')
  } catch (error) {
    throw cannotRead(what, path, error)
  }
}

/** A file that could not be opened or read, said the one way. */
export function cannotRead(what: string, path: string, error: unknown): InputError {
  const code = (error as NodeJS.ErrnoException).code
  return new InputError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(error)}`)
}

export function writeText(io: Io, path: string, text: string, what: string): void {
  try {
    writeFileSync(resolve(io.cwd, path), text)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InputError(`cannot write ${what} ${path}: ${code === 'ENOENT' ? 'no such directory' : code ?? String(error)}`)
  }
}

/** The model file, with the signals of a mappings file (docs/mappings.md) when one is given. */
export function readModel(io: Io, path: string, mappingsPath?: string): Model {
  return compileModelSource(readModelSource(io, path, mappingsPath))
}

/** A model's files as read, so that another thread can compile the same model (`pqlkit serve`'s drain). */
export type ModelSource = { path: string; text: string; mappings?: { path: string; text: string } }

export function readModelSource(io: Io, path: string, mappingsPath?: string): ModelSource {
  const mappings = mappingsPath === undefined ? undefined : { path: mappingsPath, text: readText(io, mappingsPath, 'mappings file') }
  return { path, text: readText(io, path, 'model'), ...(mappings ? { mappings } : {}) }
}

export function compileModelSource(source: ModelSource): Model {
  const mappings = source.mappings ? loadMappings(source.mappings.text, source.mappings.path, segmentSubscription) : []
  return loadModel(source.text, source.path, mappings)
}

/** One line of an events file as a product event, or what is wrong with it. */
export function parseEventLine(text: string): ProductEvent | string {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return 'not valid JSON'
  }
  try {
    return segmentMessageToProductEvent(message)
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error
    return error.message
  }
}

export function parseNow(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const at = parseTimestamp(text)
  if (Number.isNaN(at)) throw new UsageError(`--now ${text} is not an ISO 8601 date-time`)
  return at
}
