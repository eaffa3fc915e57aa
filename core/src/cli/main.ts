import { parseArgs } from 'node:util'
import { ModelError } from '../model/compile'
import { RetryableError } from '../engine/errors'
import { HubSpotRequestError } from '../hubspot/transport'
import { backtestCommand, BacktestOptions } from './backtest'
import { generateCommand } from './generate'
import { bootstrapCommand, sweepCommand, syncCommand } from './hubspot'
import { InputError, Io, UsageError } from './io'
import { serveCommand } from './serve'
import { simulateCommand } from './simulate'
import { validateCommand } from './validate'

export const USAGE = `pqlkit: product usage to HubSpot PQL scores

usage:
  pqlkit validate MODEL
  pqlkit simulate --model M --events E.jsonl [--now ISO] [--json]
  pqlkit bootstrap --model M
  pqlkit sync --model M --events E.jsonl [--handoffs] [--now ISO] [--batch-size N]
  pqlkit sweep --model M [--now ISO] [--handoffs] [--horizon DAYS]
  pqlkit serve --model M [--port N] [--host H] [--group-type T] [--handoffs]
  pqlkit backtest --model M --events E.jsonl --outcomes O.csv [--lead 7d] [--as-of ISO] [--subject contact|company] [--html FILE] [--json]
  pqlkit generate [--profile project-management|analytics|async-video] [--users N] [--days D] [--end ISO] [--seed S]
                  [--outcomes O.csv [--favour "Event A,Event B"]]

HubSpot: HUBSPOT_ACCESS_TOKEN (private app token); HUBSPOT_BASE_URL for another base URL
(e.g. the local emulator); HUBSPOT_PORTAL_ID for record links in Slack hand-offs.
serve: PQLKIT_SERVE_SECRET, the shared secret callers send in the X-Pqlkit-Secret header.

exit codes: 0 ok, 1 invalid model or input, 2 usage
`

type Command = (io: Io, args: string[]) => number | Promise<number>

function parse(args: string[], options: Record<string, { type: 'string' | 'boolean' }>, required: string[]) {
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  for (const name of required) {
    if (parsed.values[name] === undefined) throw new UsageError(`--${name} is required`)
  }
  return parsed
}

const commands: Record<string, Command> = {
  validate: (io, args) => {
    const { positionals } = parse(args, {}, [])
    if (positionals.length !== 1) throw new UsageError('validate takes one model file')
    return validateCommand(io, positionals[0])
  },
  simulate: (io, args) => {
    const { values, positionals } = parse(
      args,
      { model: { type: 'string' }, events: { type: 'string' }, now: { type: 'string' }, json: { type: 'boolean' } },
      ['model', 'events']
    )
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
    return simulateCommand(io, values as { model: string; events: string; now?: string; json?: boolean })
  },
  bootstrap: (io, args) => {
    const { values } = parse(args, { model: { type: 'string' } }, ['model'])
    return bootstrapCommand(io, io.env, values as { model: string })
  },
  sync: (io, args) => {
    const text = { type: 'string' } as const
    const { values } = parse(
      args,
      { model: text, events: text, now: text, 'batch-size': text, handoffs: { type: 'boolean' } },
      ['model', 'events']
    )
    return syncCommand(io, io.env, values as { model: string; events: string })
  },
  sweep: (io, args) => {
    const text = { type: 'string' } as const
    const { values } = parse(args, { model: text, now: text, horizon: text, handoffs: { type: 'boolean' } }, ['model'])
    return sweepCommand(io, io.env, values as { model: string })
  },
  serve: (io, args) => {
    const text = { type: 'string' } as const
    const { values, positionals } = parse(
      args,
      { model: text, port: text, host: text, 'group-type': text, handoffs: { type: 'boolean' } },
      ['model']
    )
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
    return serveCommand(io, io.env, values as { model: string })
  },
  generate: (io, args) => {
    const text = { type: 'string' } as const
    const { values, positionals } = parse(
      args,
      { profile: text, users: text, days: text, end: text, seed: text, outcomes: text, favour: text },
      []
    )
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
    return generateCommand(io, values)
  },
  backtest: (io, args) => {
    const text = { type: 'string' } as const
    const { values, positionals } = parse(
      args,
      { model: text, events: text, outcomes: text, lead: text, 'as-of': text, subject: text, html: text, json: { type: 'boolean' } },
      ['model', 'events', 'outcomes']
    )
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
    return backtestCommand(io, values as BacktestOptions)
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(USAGE)
    return name === undefined ? 2 : 0
  }
  const command = commands[name]
  if (!command) {
    io.stderr.write(`unknown command ${name}\n\n${USAGE}`)
    return 2
  }
  try {
    return await command(io, args)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${USAGE}`)
      return 2
    }
    if (
      error instanceof ModelError ||
      error instanceof InputError ||
      error instanceof HubSpotRequestError ||
      error instanceof RetryableError
    ) {
      io.stderr.write(`${error.message}\n`)
      return 1
    }
    throw error
  }
}
