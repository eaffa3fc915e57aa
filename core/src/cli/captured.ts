import { main } from './main'

export type CliRun = { code: number; stdout: string; stderr: string }

/** Runs the `pqlkit` CLI in-process with its output captured (tests, embedding). */
export async function runCaptured(argv: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    cwd,
    env
  })
  return { code, stdout, stderr }
}
