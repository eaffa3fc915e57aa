import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import { ModelError } from '../model/compile'
import { RetryableError } from '../engine/errors'
import { HubSpotRequestError } from '../hubspot/transport'
import { backtestCommand } from './backtest'
import { generateCommand } from './generate'
import { applyCommand, bootstrapCommand, sweepCommand, syncCommand } from './hubspot'
import { planCommand } from './plan'
import { hasColour, InputError, Io, UsageError } from './io'
import { inboxCommand, serveCommand } from './serve'
import { simulateCommand } from './simulate'
import { validateCommand } from './validate'

/** core/package.json, from src/cli (tests) and dist/cli (the built CLI) alike. */
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version

/**
 * Options a command cannot run without. Checked when the command runs rather than by
 * commander's requiredOption, which checks before unknown options: a mistyped
 * `--evnts` then gets its "did you mean --events?" instead of "--events not specified".
 */
const REQUIRED = new WeakSet<Option>()
function required(flags: string, description: string): Option {
  const option = new Option(flags, `${description} (required)`)
  REQUIRED.add(option)
  return option
}

const model = () => required('--model <file>', 'the model, YAML or JSON')
const MAPPINGS = ['--mappings <file>', 'mappings of events to properties, JSON (docs/mappings.md), merged into the model'] as const
const events = () => required('--events <file>', 'events as JSON Lines in Segment’s spec')
const NOW = ['--now <iso>', 'evaluate as of this ISO 8601 date-time (default: now)'] as const
const HANDOFFS = ['--handoffs', 'send the hand-offs that fire (Slack, HubSpot tasks)'] as const
const JSON_DATA = ['--json', 'print the summary as one JSON object instead of text'] as const

const ENVIRONMENT = `
Environment:
  HUBSPOT_ACCESS_TOKEN  a HubSpot private app token (bootstrap, sync, sweep, serve)
  HUBSPOT_BASE_URL      another base URL, such as the local emulator (no trailing slash)
  HUBSPOT_PORTAL_ID     record links in Slack hand-offs
  PQLKIT_SLACK_HOSTS    Slack webhook hosts allowed, comma-separated (default hooks.slack.com)
  PQLKIT_SERVE_SECRET   serve: the shared secret (X-Pqlkit-Secret header, Segment's Shared Secret, the HTTP API write key)
  PQLKIT_DATABASE_URL   serve, inbox: postgres://… or a SQLite file (default ./pqlkit.sqlite)
  NO_COLOR              no colour, even on a terminal

Exit codes: 0 ok, 1 invalid model or input, 2 usage.
Docs: docs/cli.md in the repository.
`

/** ANSI styles; commander strips them from help where `getOutHasColors` says no. */
const style = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`
const bold = style(1, 22)
const red = style(31, 39)
const green = style(32, 39)
const cyan = style(36, 39)

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`

/** The pqlkit command line: commander parses, `io` gets every byte, `main` returns the exit code. */
function program(io: Io, exit: { code: number }): Command {
  const colourOut = hasColour(io, io.stdout)
  const colourErr = hasColour(io, io.stderr)
  const root = new Command('pqlkit')
    .description('Product usage events to HubSpot properties and PQL scores.')
    .usage('<command> [options]')
    .version(VERSION, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .showHelpAfterError('(run "pqlkit --help" for the commands)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHasColors: () => colourOut,
      getErrHasColors: () => colourErr,
      outputError: (text, write) => write(colourErr ? red(text) : text)
    })
    .configureHelp({
      styleTitle: bold,
      styleCommandText: cyan,
      styleSubcommandTerm: cyan,
      styleOptionTerm: green,
      styleArgumentTerm: green
    })
    .addHelpText('after', `${ENVIRONMENT}${examples('pqlkit validate examples/project-management.yaml', 'pqlkit help backtest')}`)

  /** A subcommand whose action sets the exit code; a UsageError from it is answered like commander's own. */
  const command = (name: string, usage: string, description: string, exampleLines: string[]) =>
    root
      .command(name)
      .usage(usage)
      .description(description)
      .showHelpAfterError(`(run "pqlkit ${name} --help" for its options and examples)`)
      .addHelpText('after', examples(...exampleLines))

  const act =
    <A extends unknown[]>(run: (...args: A) => number | Promise<number>) =>
    async (...args: A) => {
      const self = args[args.length - 1] as Command
      try {
        const missing = self.options.find((option) => REQUIRED.has(option) && self.getOptionValue(option.attributeName()) === undefined)
        if (missing) throw new UsageError(`required option '${missing.flags}' not specified`)
        exit.code = await run(...args)
      } catch (error) {
        if (!(error instanceof UsageError)) throw error
        self.error(`error: ${error.message}`, { exitCode: 2, code: 'pqlkit.usage' })
      }
    }

  command('validate', '<model>', 'check a model and print its signals, rules, decay, tiers and hand-offs (never a webhook path)', [
    'pqlkit validate examples/project-management.yaml'
  ])
    .argument('<model>', 'the model, YAML or JSON')
    .option(...MAPPINGS)
    .action(act((model: string, options: { mappings?: string }) => validateCommand(io, model, options.mappings)))

  command('simulate', '--model <file> --events <file> [options]', 'score events offline, as a real-time replay, and print the leaderboard and tiers', [
    'pqlkit simulate --model examples/project-management.yaml --events examples/sample-events.jsonl',
    'pqlkit simulate --model examples/project-management.yaml --events examples/sample-events.jsonl --now 2026-11-01T00:00:00Z --json'
  ])
    .addOption(model())
    .addOption(events())
    .option('--now <iso>', 'evaluate every subject as of this ISO 8601 date-time (default: the latest event)')
    .option('--json', 'print one object per subject instead of tables')
    .option(...MAPPINGS)
    .action(act((options: { model: string; mappings?: string; events: string; now?: string; json?: boolean }) => simulateCommand(io, options)))

  command('bootstrap', '--model <file>', 'create the HubSpot property groups and every property the model needs (idempotent)', [
    'HUBSPOT_ACCESS_TOKEN=pat-… pqlkit bootstrap --model your-model.yaml'
  ])
    .addOption(model())
    .option(...MAPPINGS)
    .option(...JSON_DATA)
    .action(act((options: { model: string; mappings?: string; json?: boolean }) => bootstrapCommand(io, io.env, options)))

  command('sync', '--model <file> --events <file> [options]', 'send events (a backfill or replay) through the hosts’ pipeline into HubSpot', [
    'HUBSPOT_ACCESS_TOKEN=pat-… pqlkit sync --model your-model.yaml --events events.jsonl',
    'HUBSPOT_BASE_URL=http://127.0.0.1:4010 HUBSPOT_ACCESS_TOKEN=local pqlkit sync --model examples/project-management.yaml --events examples/sample-events.jsonl --handoffs'
  ])
    .addOption(model())
    .addOption(events())
    .option(...HANDOFFS)
    .option(...NOW)
    .option('--batch-size <n>', 'events per pipeline batch, to bound memory (default: the whole file, each subject read and written once)')
    .option(...MAPPINGS)
    .option(...JSON_DATA)
    .action(
      act((options: { model: string; mappings?: string; events: string; handoffs?: boolean; now?: string; batchSize?: string; json?: boolean }) =>
        syncCommand(io, io.env, { ...options, 'batch-size': options.batchSize })
      )
    )

  command('sweep', '--model <file> [options]', 're-evaluate the subjects active within the horizon (windows and decay go stale without events) and write the difference', [
    'HUBSPOT_ACCESS_TOKEN=pat-… pqlkit sweep --model your-model.yaml',
    'HUBSPOT_ACCESS_TOKEN=pat-… pqlkit sweep --model your-model.yaml --horizon 30 --handoffs'
  ])
    .addOption(model())
    .option(...NOW)
    .option(...HANDOFFS)
    .option('--horizon <days>', 'how far back a subject must have been active (default: 180)')
    .option(...MAPPINGS)
    .option(...JSON_DATA)
    .action(act((options: { model: string; mappings?: string; now?: string; handoffs?: boolean; horizon?: string; json?: boolean }) => sweepCommand(io, io.env, options)))

  command('plan', '--model <file> [--from <file>] [--events <file>] [options]', 'what a model change will do before it is made: portal properties to create or change, aggregates that reset, the tier shift', [
    'HUBSPOT_ACCESS_TOKEN=pat-… pqlkit plan --model new-model.yaml',
    'pqlkit plan --model new-model.yaml --from examples/project-management.yaml --events examples/sample-events.jsonl'
  ])
    .addOption(model())
    .option('--from <file>', 'the model in use, to compare with')
    .option('--events <file>', 'events to simulate under both models, for the tier shift (needs --from)')
    .option('--now <iso>', 'evaluate as of this ISO 8601 date-time (default: the latest event)')
    .option(...MAPPINGS)
    .option(...JSON_DATA)
    .action(act((options: { model: string; mappings?: string; from?: string; events?: string; now?: string; json?: boolean }) => planCommand(io, io.env, options)))

  command('apply', '--model <file> [options]', 'make a model change: reconcile the portal, then re-evaluate every stored subject under the new model', [
    'HUBSPOT_ACCESS_TOKEN=pat-… pqlkit apply --model new-model.yaml'
  ])
    .addOption(model())
    .option(...NOW)
    .option(...HANDOFFS)
    .option(...MAPPINGS)
    .option(...JSON_DATA)
    .action(act((options: { model: string; mappings?: string; now?: string; handoffs?: boolean; json?: boolean }) => applyCommand(io, io.env, options)))

  command('serve', '--model <file> [options]', 'the server: webhooks of PostHog, Segment and RudderStack into a durable inbox, states in SQLite or PostgreSQL (needs PQLKIT_SERVE_SECRET)', [
    'PQLKIT_SERVE_SECRET=$(openssl rand -hex 24) HUBSPOT_ACCESS_TOKEN=pat-… pqlkit serve --model your-model.yaml --host 0.0.0.0 --handoffs',
    'PQLKIT_DATABASE_URL=postgres://pqlkit@db/pqlkit … pqlkit serve --model your-model.yaml'
  ])
    .addOption(model())
    .option('--port <n>', 'the port to listen on (default: PQLKIT_PORT, else 8787)')
    .option('--host <host>', 'the address to listen on (default: PQLKIT_HOST, else 127.0.0.1)')
    .option('--database <url>', 'postgres://… or a SQLite file (default: PQLKIT_DATABASE_URL, else ./pqlkit.sqlite)')
    .option('--group-type <type>', 'the PostHog group type that is the company (default: company)')
    .option(...HANDOFFS)
    .option(...MAPPINGS)
    .action(
      act((options: { model: string; mappings?: string; port?: string; host?: string; database?: string; groupType?: string; handoffs?: boolean }) =>
        serveCommand(io, io.env, { ...options, 'group-type': options.groupType })
      )
    )

  command('inbox', '[list|retry|drop] [ids...] [options]', 'the server’s inbox: list its dead letters (default), retry them or drop them (all, or those ids)', [
    'pqlkit inbox list --json',
    'pqlkit inbox retry 41 42',
    'PQLKIT_DATABASE_URL=postgres://… pqlkit inbox drop'
  ])
    .argument('[action]', 'list, retry or drop (default: list)')
    .argument('[ids...]', 'dead letter ids (default: all)')
    .option('--database <url>', 'postgres://… or a SQLite file (default: PQLKIT_DATABASE_URL, else ./pqlkit.sqlite)')
    .option(...JSON_DATA)
    .action(act((action: string | undefined, ids: string[], options: { database?: string; json?: boolean }) => inboxCommand(io, io.env, action ?? 'list', ids, options)))

  command('backtest', '--model <file> --events <file> --outcomes <file> [options]', 'how well the score predicted conversion: by bucket and tier, lift per rule, a suggested threshold and points', [
    'pqlkit backtest --model examples/project-management.yaml --events examples/sample-events.jsonl --outcomes examples/sample-outcomes.csv',
    'pqlkit backtest --model examples/project-management.yaml --events examples/sample-events.jsonl --outcomes examples/sample-outcomes.csv --lead 7d --html report.html'
  ])
    .addOption(model())
    .addOption(events())
    .addOption(required('--outcomes <file>', 'who converted and when: email,converted_at (or company,converted_at)'))
    .option('--lead <duration>', 'score converters this long before they converted, such as 7d (default: 0d)')
    .option('--as-of <iso>', 'score the others at this ISO 8601 date-time (default: the end of the data)')
    .option('--subject <kind>', 'contact or company (default: contact)')
    .option('--html <file>', 'also write the report as one self-contained HTML page')
    .option('--json', 'print the report as one object instead of tables')
    .option(...MAPPINGS)
    .action(
      act((options: { model: string; mappings?: string; events: string; outcomes: string; lead?: string; asOf?: string; subject?: string; html?: string; json?: boolean }) =>
        backtestCommand(io, { ...options, 'as-of': options.asOf })
      )
    )

  command('generate', '[options]', 'write a seeded synthetic event stream (JSON Lines) to stdout; with no options, exactly examples/sample-events.jsonl', [
    'pqlkit generate > events.jsonl',
    'pqlkit generate --profile analytics --users 1000 --days 60 --seed 7 --outcomes outcomes.csv --favour "Dashboard Shared,SQL Query Run" > events.jsonl'
  ])
    .option('--profile <profile>', 'project-management, analytics or async-video (default: project-management)')
    .option('--users <n>', 'how many users (default: 300)')
    .option('--days <n>', 'how many days, at most 90 (default: 30)')
    .option('--end <iso>', 'when the stream ends (default: 2026-11-01T00:00:00Z)')
    .option('--seed <n>', 'the random seed (default: 42)')
    .option('--outcomes <file>', 'also write who converted, by a known ground truth, as a CSV file')
    .option('--favour <events>', 'with --outcomes: the track events that raise the odds of converting, comma-separated')
    .action(act((options: Record<string, string | undefined>) => generateCommand(io, options)))

  return root
}

/** Runs the CLI on `argv` (the arguments after `pqlkit`) and returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const exit = { code: 0 }
  try {
    await program(io, exit).parseAsync(argv, { from: 'user' })
    return exit.code
  } catch (error) {
    // Help and version exit 0; every other commander exit is a wrong command line.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2
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
