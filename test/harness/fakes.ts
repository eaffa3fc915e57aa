import nock from 'nock'

/** Freezes Date only (at `now` when given): sockets, timers and performance keep running for real. */
export function freezeDate(now?: number): void {
  jest.useFakeTimers({
    ...(now === undefined ? {} : { now }),
    doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout']
  })
}

/**
 * Slack, faked for Node's http(s): every post to hooks.slack.com is answered 200 and its body
 * (as JSON) pushed to `posts`; no other host but loopback answers.
 */
export function fakeSlack(posts: { push(post: string): unknown }): void {
  nock.disableNetConnect()
  nock.enableNetConnect('127.0.0.1')
  nock('https://hooks.slack.com')
    .persist()
    .post(/.*/)
    .reply(200, (_uri, body) => {
      posts.push(JSON.stringify(body))
      return 'ok'
    })
}

/** Undoes fakeSlack and freezeDate. */
export function restoreFakes(): void {
  nock.cleanAll()
  nock.enableNetConnect()
  jest.useRealTimers()
}
