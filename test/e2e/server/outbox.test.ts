import { readFileSync } from 'node:fs'
import { Database, DefaultHandoffSender, JsonLog, loadModel, officialHubSpotApi, openDatabase, PostJson, startServer, Transport } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { scratch, SLACK_LOG_ENV } from '../../harness/processes/host-process'
import { PostgresCluster, startPostgres } from '../../harness/postgres'
import { drained, freshDatabase, handedOff, MODEL_FILE, postSegment, SECRET, spawnServer, sqliteFile, stream } from './harness'

/**
 * The outbox sends each hand-off exactly once, part by part: a server killed with SIGKILL in
 * the window where HubSpot created a task and the server never saw the answer, the answer
 * lost on a dropped connection, and a Slack post that fails while the task lands. The servers run on the real clock, so the stream ends
 * an hour ago; its tier-entry hand-off posts to Slack and creates a task, the other only posts.
 */
const MODEL = loadModel(readFileSync(MODEL_FILE, 'utf8'))
const END = new Date(Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000).toISOString()
const MESSAGES = stream(12, 20, 5, END)
const ENTERS = 'enters Sales-Ready'
const chunked = <T>(items: T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

let postgres: PostgresCluster
let emulator: Emulator
beforeAll(async () => {
  postgres = await startPostgres()
}, 60_000)
afterAll(() => postgres?.stop())
beforeEach(async () => {
  emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
})
afterEach(() => emulator.stop())

const location = (kind: 'sqlite' | 'postgres') => (kind === 'sqlite' ? Promise.resolve(sqliteFile()) : freshDatabase(postgres.url))

/** The tasks HubSpot holds for the contact with this id. */
const tasksOf = (contactId: string) => emulator.dump().tasks.filter((task) => task.associations?.some((association) => association.toId === contactId))
const emailOf = (contactId: string) => emulator.dump().contacts.find((contact) => contact.id === contactId)!.properties.email
/** Slack posts (their JSON bodies) of the tier-entry hand-off to this email. */
const enteredPosts = (posts: string[], email: string) => posts.filter((post) => post.includes(ENTERS) && post.includes(`(${email})`))

async function outbox(db: Database) {
  return db.all(`SELECT id, intent, contact, status, attempts, attempted_at, slack_sent_at, task_id FROM outbox ORDER BY id`)
}

/** Every row sent; one task per tier-entry row, one Slack post per row. */
async function expectEachSentOnce(db: Database, posts: string[]): Promise<void> {
  const rows = await outbox(db)
  expect(rows.length).toBeGreaterThan(0)
  expect(rows.map((row) => row.status)).toEqual(rows.map(() => 'sent'))
  const entered = rows.filter((row) => JSON.parse(String(row.intent)).on === ENTERS)
  expect(entered.length).toBeGreaterThan(0)
  expect(emulator.dump().tasks).toHaveLength(entered.length)
  expect(new Set(entered.map((row) => String(row.task_id))).size).toBe(entered.length)
  expect(posts).toHaveLength(rows.length)
}

/** The server in this process, its hand-offs posting to Slack through `post`. */
function serveInProcess(database: string, post: PostJson) {
  const api = officialHubSpotApi({ accessToken: emulator.accessToken, basePath: emulator.url }, new Transport())
  return startServer({
    db: openDatabase(database),
    model: MODEL,
    api,
    secret: SECRET,
    port: 0,
    handoffs: new DefaultHandoffSender({ post, api, now: () => Date.now() }),
    log: new JsonLog({ write: () => true }),
    gatherMs: 20,
    pollMs: 50,
    sweepIntervalMs: 0
  })
}

describe.each(['sqlite', 'postgres'] as const)('on %s', (kind) => {
  it('a server killed with SIGKILL while HubSpot holds the answer to a task it created: after a restart the contact has one task and Slack one post', async () => {
    const database = await location(kind)
    const slack = scratch()
    const held = emulator.holdNext('POST /crm/v3/objects/tasks')
    const serve = () => spawnServer(emulator, database, { [SLACK_LOG_ENV]: slack.slackLog }, { args: ['--handoffs'], preload: true })
    const first = await serve()
    const db = openDatabase(database)
    try {
      for (const batch of chunked(MESSAGES, 50)) expect((await postSegment(first.url, batch)).status).toBe(200)
      await held.reached
      first.child.kill('SIGKILL')
      await first.exited
      held.release()
      // HubSpot created the task; the server had committed the attempt and the Slack post, never the task.
      const [task] = emulator.dump().tasks
      const contactId = task.associations![0].toId
      const row = (await outbox(db)).find((candidate) => JSON.parse(String(candidate.contact)).id === contactId && JSON.parse(String(candidate.intent)).on === ENTERS)!
      expect(row).toMatchObject({ status: 'pending', task_id: null })
      expect(row.attempted_at).not.toBeNull()
      expect(row.slack_sent_at).not.toBeNull()
      expect(enteredPosts(slack.posts(), emailOf(contactId))).toHaveLength(1)
      const second = await serve()
      try {
        await drained(db)
        await handedOff(db)
        expect(tasksOf(contactId)).toHaveLength(1)
        expect(enteredPosts(slack.posts(), emailOf(contactId))).toHaveLength(1)
        expect((await outbox(db)).find((candidate) => candidate.id === row.id)).toMatchObject({ status: 'sent', task_id: task.id })
        await expectEachSentOnce(db, slack.posts())
      } finally {
        second.child.kill('SIGTERM')
        expect(await second.exited).toBe(0)
      }
    } finally {
      first.child.kill('SIGKILL')
      await db.close()
      slack.remove()
    }
  }, 180_000)

  it('HubSpot creates the task but the connection drops before its answer: the task is not created again at once, the retry finds it', async () => {
    const database = await location(kind)
    const posts: string[] = []
    const cut = emulator.holdNext('POST /crm/v3/objects/tasks')
    const running = await serveInProcess(database, async (_url, body) => (posts.push(body), { status: 200 }))
    const db = openDatabase(database)
    try {
      for (const batch of chunked(MESSAGES, 50)) expect((await postSegment(running.url, batch)).status).toBe(200)
      await cut.reached
      cut.drop()
      await drained(db)
      await handedOff(db)
      const [task] = emulator.dump().tasks
      const contactId = task.associations![0].toId
      expect(tasksOf(contactId)).toHaveLength(1)
      expect(enteredPosts(posts, emailOf(contactId))).toHaveLength(1)
      expect(emulator.stats().byEndpoint[`GET /crm/v4/objects/contacts/${contactId}/associations/tasks`]).toBe(1)
      await expectEachSentOnce(db, posts)
    } finally {
      await running.close()
      await db.close()
    }
  }, 120_000)

  it('Slack answering 503 while the task lands: the retry posts to Slack only, one task in all', async () => {
    const database = await location(kind)
    const posts: string[] = []
    let refused: string | undefined
    // The first tier-entry post is refused as Slack refuses when it is down; the others land.
    const running = await serveInProcess(database, async (_url, body) => {
      if (refused === undefined && body.includes(ENTERS)) {
        refused = body
        return { status: 503 }
      }
      posts.push(body)
      return { status: 200 }
    })
    const db = openDatabase(database)
    try {
      for (const batch of chunked(MESSAGES, 50)) expect((await postSegment(running.url, batch)).status).toBe(200)
      await drained(db)
      await handedOff(db)
      const row = (await outbox(db)).find((candidate) => refused !== undefined && refused.includes(`(${JSON.parse(String(candidate.contact)).email})`) && JSON.parse(String(candidate.intent)).on === ENTERS)!
      expect(Number(row.attempts)).toBe(1)
      const contactId = JSON.parse(String(row.contact)).id
      expect(tasksOf(contactId)).toHaveLength(1)
      expect(enteredPosts(posts, emailOf(contactId))).toHaveLength(1)
      // The retry knew the task had landed: it neither looked for it nor created another.
      expect(emulator.stats().byEndpoint[`GET /crm/v4/objects/contacts/${contactId}/associations/tasks`]).toBeUndefined()
      await expectEachSentOnce(db, posts)
    } finally {
      await running.close()
      await db.close()
    }
  }, 120_000)
})
