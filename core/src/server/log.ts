import type { Output } from '../cli/io'

export type LogFields = Record<string, string | number | boolean | undefined>

/**
 * Structured logs, one JSON object per line. Callers pass counts, routes, statuses and
 * pqlkit's own messages, never a token, a secret, a header or a request body.
 */
export class JsonLog {
  constructor(
    private readonly out: Output,
    private readonly now: () => number = Date.now
  ) {}

  info(msg: string, fields: LogFields = {}): void {
    this.write('info', msg, fields)
  }

  warn(msg: string, fields: LogFields = {}): void {
    this.write('warn', msg, fields)
  }

  error(msg: string, fields: LogFields = {}): void {
    this.write('error', msg, fields)
  }

  private write(level: string, msg: string, fields: LogFields): void {
    this.out.write(`${JSON.stringify({ time: new Date(this.now()).toISOString(), level, msg, ...fields })}\n`)
  }
}
