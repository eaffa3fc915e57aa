import { ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from '../../repo-root'
import type { RunOptions, RunReport, TransformerEvent } from './sandbox'

export type Transformer = {
  run(code: string, events: TransformerEvent[], credentials: Record<string, string>, options?: RunOptions): Promise<RunReport>
  stop(): Promise<void>
}

/** Starts the transformer process (compiled by `tsc -b`, run with `--no-node-snapshot`). */
export function startTransformer(): Transformer {
  const child: ChildProcess = fork(join(REPO_ROOT, 'test/dist/harness/rudderstack/transformer-main.js'), [], { execArgv: ['--no-node-snapshot'] })
  const waiting = new Map<number, { resolve: (report: RunReport) => void; reject: (error: Error) => void }>()
  let next = 0
  child.on('message', (message: { id: number; report: RunReport }) => {
    waiting.get(message.id)?.resolve(message.report)
    waiting.delete(message.id)
  })
  child.on('exit', (code) => {
    for (const { reject } of waiting.values()) reject(new Error(`the transformer process exited (${code})`))
    waiting.clear()
  })
  return {
    run: (code, events, credentials, options) =>
      new Promise((resolve, reject) => {
        const id = ++next
        waiting.set(id, { resolve, reject })
        child.send({ id, code, events, credentials, options })
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill()
      })
  }
}
