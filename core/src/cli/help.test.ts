import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCaptured } from './captured'
import { main } from './main'

const ROOT = join(__dirname, '..', '..', '..')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'core', 'package.json'), 'utf8')) as { version: string }).version
const COMMANDS = ['validate', 'simulate', 'bootstrap', 'sync', 'sweep', 'plan', 'apply', 'serve', 'inbox', 'backtest', 'generate']

const run = (...argv: string[]) => runCaptured(argv, ROOT)

describe('pqlkit help and version', () => {
  it('--help lists every command, the environment and the exit codes, on stdout, exit 0', async () => {
    const result = await run('--help')
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^Usage: pqlkit <command> \[options\]/)
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(result.stdout).toContain('HUBSPOT_ACCESS_TOKEN')
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 invalid model or input, 2 usage.')
  })

  it.each(COMMANDS)('%s --help and help %s print the same help, with examples, exit 0', async (command) => {
    const flag = await run(command, '--help')
    const help = await run('help', command)
    expect(flag.code).toBe(0)
    expect(help.code).toBe(0)
    expect(flag.stderr).toBe('')
    expect(help.stdout).toBe(flag.stdout)
    expect(flag.stdout).toMatch(new RegExp(`^Usage: pqlkit ${command} `))
    expect(flag.stdout).toMatch(new RegExp(`Examples:\\n  \\$ .*pqlkit ${command} `))
  })

  it('sync --help names its required options and what they take', async () => {
    const { stdout } = await run('sync', '--help')
    expect(stdout).toContain('Usage: pqlkit sync --model <file> --events <file> [options]')
    expect(stdout).toMatch(/--model <file> +the model, YAML or JSON \(required\)/)
    expect(stdout).toMatch(/--batch-size <n> +events per pipeline batch, to bound memory/)
  })

  it('--version and -v print the core package version, exit 0', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await run(flag)
      expect(result).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
    }
  })
})

describe('pqlkit usage errors exit 2 with a hint', () => {
  it('an unknown option gets a suggestion', async () => {
    const result = await run('simulate', '--model', 'm.yaml', '--evnts', 'e.jsonl')
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      "error: unknown option '--evnts'\n(Did you mean --events?)\n(run \"pqlkit simulate --help\" for its options and examples)\n"
    )
  })

  it('an unknown command gets a suggestion', async () => {
    const result = await run('simulat')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("error: unknown command 'simulat'\n(Did you mean simulate?)")
  })

  it('a missing required option, a bad value, a stray argument, help for no command', async () => {
    expect((await run('backtest', '--model', 'm.yaml', '--events', 'e.jsonl')).stderr).toContain(
      "error: required option '--outcomes <file>' not specified"
    )
    const sample = ['--model', 'examples/project-management.yaml', '--events', 'examples/sample-events.jsonl']
    expect((await run('simulate', ...sample, '--now', 'soon')).stderr).toContain(
      'error: --now soon is not an ISO 8601 date-time'
    )
    expect((await run('validate', 'a.yaml', 'b.yaml')).code).toBe(2)
    expect((await run('help', 'frobnicate')).code).toBe(2)
    const none = await run()
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Usage: pqlkit <command> [options]')
  })
})

describe('pqlkit colour', () => {
  async function help(isTTY: boolean, env: Record<string, string>): Promise<string> {
    let stdout = ''
    const io = { stdout: { write: (text: string) => (stdout += text), isTTY }, stderr: { write: () => true, isTTY }, cwd: ROOT, env }
    expect(await main(['help', 'sync'], io)).toBe(0)
    return stdout
  }

  it('only on a terminal, and not with NO_COLOR', async () => {
    expect(await help(true, {})).toContain('\u001b[1mOptions:\u001b[22m')
    expect(await help(false, {})).not.toContain('\u001b[')
    expect(await help(true, { NO_COLOR: '1' })).not.toContain('\u001b[')
    expect(await help(true, { NO_COLOR: '1' })).toBe(await help(false, {}))
  })
})

describe('the pqlkit binary', () => {
  const bin = join(ROOT, 'core', 'bin', 'pqlkit.js')

  it('exits with the codes main returns', () => {
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' })).toBe(`${VERSION}\n`)
    expect(spawnSync(process.execPath, [bin, 'help', 'backtest']).status).toBe(0)
    expect(spawnSync(process.execPath, [bin, 'sync', '--help']).status).toBe(0)
    const unknown = spawnSync(process.execPath, [bin, '--bogus'], { encoding: 'utf8' })
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain("error: unknown option '--bogus'")
    expect(spawnSync(process.execPath, [bin, 'validate', 'nope.yaml']).status).toBe(1)
  })
})
