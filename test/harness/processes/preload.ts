/**
 * What a host process a test starts (`node --require` this, or imported first by a worker
 * thread) needs so that it runs as in production but for two things, as the in-process tests
 * have them: Date stands at `PQLKIT_TEST_NOW` (timers keep running for real), and Slack is
 * faked: every post to hooks.slack.com is answered 200 and appended to `PQLKIT_TEST_SLACK_LOG`
 * (one JSON line each, synchronously, so nothing is lost when the process exits). No host but
 * loopback answers.
 */
import { appendFileSync } from 'node:fs'
import { fakeSlack } from '../fakes'
import { NOW_ENV, SLACK_LOG_ENV } from './host-process'

const now = process.env[NOW_ENV]
if (now !== undefined) {
  const at = Date.parse(now)
  if (Number.isNaN(at)) throw new Error(`${NOW_ENV}=${now} is not an ISO 8601 date-time`)
  const RealDate = Date
  globalThis.Date = class extends RealDate {
    constructor(...args: [] | ConstructorParameters<DateConstructor>) {
      super(...((args.length === 0 ? [at] : args) as ConstructorParameters<DateConstructor>))
    }
    static override now(): number {
      return at
    }
  } as DateConstructor
}

const slackLog = process.env[SLACK_LOG_ENV]
fakeSlack({ push: (post) => slackLog !== undefined && appendFileSync(slackLog, `${post}\n`) })
