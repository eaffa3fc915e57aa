import { ChildProcess, fork, ForkOptions } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../../repo-root'

/** The preload's settings (./preload.ts, which runs on import: never imported by the test process). */
export const NOW_ENV = 'PQLKIT_TEST_NOW'
export const SLACK_LOG_ENV = 'PQLKIT_TEST_SLACK_LOG'

/** The compiled preload (`tsc -b` builds it): frozen Date, faked Slack (./preload.ts). */
export const PRELOAD = join(REPO_ROOT, 'test/dist/harness/processes/preload.js')

/**
 * A scratch directory for one run of host processes: the Slack log they all append to, and
 * files they read (a model). `posts()` are the Slack posts made so far, by every process.
 */
export type Scratch = { slackLog: string; file(name: string, text: string): string; posts(): string[]; remove(): void }

export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-hosts-'))
  const slackLog = join(dir, 'slack.jsonl')
  writeFileSync(slackLog, '')
  return {
    slackLog,
    file: (name, text) => {
      const path = join(dir, name)
      writeFileSync(path, text)
      return path
    },
    posts: () => readFileSync(slackLog, 'utf8').split('\n').filter((line) => line !== ''),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

/** The environment of a host process: the test's own, Date frozen at `now`, Slack posts logged to `scratch`. */
export function hostEnv(now: number, scratch: Scratch, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, [NOW_ENV]: new Date(now).toISOString(), [SLACK_LOG_ENV]: scratch.slackLog, ...extra }
}

/** Every host process still running: a test process that ends (a test timed out, jest exits) ends them with it. */
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** Ends `child` with the test process, should the test not end it (it failed or timed out first). */
export function endWithTest<T extends ChildProcess>(child: T): T {
  running.add(child)
  child.once('exit', () => running.delete(child))
  return child
}

/** Forks `module` (compiled JavaScript) as a host process: with the preload, an IPC channel, its output kept. */
export function forkHost(module: string, args: string[], env: NodeJS.ProcessEnv, options: ForkOptions = {}): ChildProcess & { output(): string } {
  let output = ''
  const child = endWithTest(fork(module, args, { env, execArgv: ['--require', PRELOAD], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], ...options }))
  child.stdout?.on('data', (chunk) => (output += chunk))
  child.stderr?.on('data', (chunk) => (output += chunk))
  return Object.assign(child, { output: () => output })
}

/** Resolves with the exit code once `child` has exited and its output is read. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('close', (code) => resolve(code)))
}

/** The `pqlkit` CLI as users run it. */
export const PQLKIT_BIN = join(REPO_ROOT, 'core/bin/pqlkit.js')

/** Runs one `pqlkit` command as a host process to its end; rejects with its output when it exits non-zero. */
export async function runPqlkit(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = forkHost(PQLKIT_BIN, args, env)
  const code = await exited(child)
  if (code !== 0) throw new Error(`pqlkit ${args[0]} exited ${code}: ${child.output()}`)
  return child.output()
}
