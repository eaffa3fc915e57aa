import { generateEvents, loadModel } from '@pqlkit/core'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEmulator } from '../../harness/hubspot-emulator'
import { fakeSlack, freezeDate, restoreFakes } from '../../harness/fakes'
import { hostEnv, runPqlkit, scratch } from '../../harness/processes/host-process'
import { REPO_ROOT } from '../../repo-root'
import { checkConcurrentRun, NOTHING_WRONG } from './concurrent-check'
import {
  ConcurrentHost,
  posthogPluginWorkers,
  rudderstackLateRouter,
  rudderstackTwoSources,
  segmentFunctionInvocations,
  segmentInstances,
  serverProcesses
} from './concurrent-hosts'

/**
 * The `concurrent` family (docs/reliability.md): every host run the way it really runs at
 * once — several processes, late deliveries, parallel isolates, worker threads — on one
 * generated stream, against the emulator with 50 ms per call, on a seeded schedule. After
 * the run and one `pqlkit sweep` (none for `pqlkit serve`, whose states are in its database:
 * `ConcurrentReport.states`), HubSpot must hold exactly what `pqlkit simulate` computes
 * for every subject: no event lost, no count doubled, no contact missing or held twice, no
 * event refused, each tier-entry hand-off (Slack post and task) sent exactly once. Without
 * a concurrency-safe state store these fail (docs/reliability.md gives what they show then).
 */
const NOW = '2026-11-01T00:00:00.000Z'
const SEED = 16
const MODEL = readFileSync(join(REPO_ROOT, 'examples/project-management.yaml'), 'utf8')
const MESSAGES = generateEvents({ profile: 'project-management', users: 60, days: 30, end: NOW, seed: SEED })
/** Every call takes 50 ms more, as HubSpot's own take 50 to 150: each batch's read-to-write window is hundreds of milliseconds. */
const LATENCY = { seed: SEED, latencyMs: 50 }
const RATE_LIMIT = { max: 1_000_000, intervalMs: 10_000 }

const HOSTS: ConcurrentHost[] = [
  segmentInstances(1),
  segmentInstances(2),
  segmentInstances(4),
  segmentInstances(8),
  rudderstackLateRouter(500),
  rudderstackLateRouter(2_000),
  rudderstackTwoSources,
  posthogPluginWorkers,
  segmentFunctionInvocations(4),
  serverProcesses('SQLite'),
  serverProcesses('PostgreSQL')
]
describe('concurrent: each host as it runs at once ends, after one pqlkit sweep, with exactly what pqlkit simulate computes', () => {
  const now = Date.parse(NOW)
  const model = loadModel(MODEL)
  // RudderStack's Slack posts go out from this process (its egress); every other host's from its own.
  const slackPosts: string[] = []

  beforeAll(() => {
    freezeDate(now)
    fakeSlack(slackPosts)
  })

  afterAll(() => {
    restoreFakes()
  })

  it.each(HOSTS)(
    '$name',
    async (host) => {
      const emulator = await startEmulator({ rateLimit: RATE_LIMIT, faults: LATENCY })
      const files = scratch()
      slackPosts.length = 0
      try {
        const report = await host.deliver(MESSAGES, { emulator, model: MODEL, now, scratch: files, seed: SEED })
        const cli = { HUBSPOT_BASE_URL: emulator.url, HUBSPOT_ACCESS_TOKEN: emulator.accessToken, HUBSPOT_PORTAL_ID: '123456' }
        if (report.states === undefined) await runPqlkit(['sweep', '--model', files.file('model.yaml', MODEL), '--now', NOW, '--handoffs'], hostEnv(now, files, cli))
        const check = checkConcurrentRun(model, MESSAGES, now, emulator.dump(), { states: report.states, refused: report.refused, slackPosts: [...slackPosts, ...files.posts()] })
        expect(check).toEqual(NOTHING_WRONG)
      } finally {
        await emulator.stop()
        files.remove()
      }
    },
    180_000
  )
})
