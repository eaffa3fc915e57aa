import { SingleBar } from 'cli-progress'
import type { Output } from './io'

export type Progress = { update(done: number, total: number): void; stop(): void }

/**
 * A progress bar on a terminal; on anything else (CI logs, pipes, tests) a plain line at
 * most every tenth of the way, so logs stay readable.
 */
export function progress(stream: Output, label: string): Progress {
  const tty = (stream as { isTTY?: boolean }).isTTY === true
  if (tty) {
    const bar = new SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
      hideCursor: true,
      clearOnComplete: false
    })
    let started = false
    return {
      update(done, total) {
        if (!started) {
          bar.start(total, done)
          started = true
        } else {
          bar.setTotal(total)
          bar.update(done)
        }
      },
      stop: () => started && bar.stop()
    }
  }
  let lastTenth = -1
  return {
    update(done, total) {
      const tenth = total === 0 ? 10 : Math.floor((done / total) * 10)
      if (tenth === lastTenth) return
      lastTenth = tenth
      stream.write(`${label}: ${done}/${total}\n`)
    },
    stop: () => undefined
  }
}
