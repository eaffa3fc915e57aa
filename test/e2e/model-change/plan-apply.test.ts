import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadModel, runCaptured, segmentMessageToProductEvent, simulate } from '@pqlkit/core'
import { Emulator, startEmulator } from '../../harness/hubspot-emulator'
import { REPO_ROOT } from '../../repo-root'
import { differencesFromSimulate, snapshot } from '../conformance/snapshot'
import { renamedAndMovedTiers, withScratchModel } from './models'

/**
 * `pqlkit plan` and `pqlkit apply` on the example model with renamed and moved tiers
 * (Sales-Ready → SQL-Ready at 90, Hot at 50), over the sample stream.
 */
const CURRENT = join(REPO_ROOT, 'examples/project-management.yaml')
const EVENTS = join(REPO_ROOT, 'examples/sample-events.jsonl')
const current = readFileSync(CURRENT, 'utf8')
const next = renamedAndMovedTiers(current)
const events = readFileSync(EVENTS, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => segmentMessageToProductEvent(JSON.parse(line)))
const NOW = new Date(simulate(loadModel(current), events).now).toISOString()

let emulator: Emulator
let env: Record<string, string>
beforeAll(async () => {
  emulator = await startEmulator({ rateLimit: { max: 1_000_000, intervalMs: 10_000 } })
  env = { HUBSPOT_ACCESS_TOKEN: emulator.accessToken, HUBSPOT_BASE_URL: emulator.url }
})
afterAll(() => emulator.stop())

/** Each subject's tier under a model, by subject. */
function tiers(modelText: string): Map<string, Record<string, string>> {
  const result = new Map<string, Record<string, string>>()
  for (const subject of simulate(loadModel(modelText), events, Date.parse(NOW)).subjects) {
    const tier = (score: string) => String(subject.properties[`${score}_tier`] ?? '') || '–'
    result.set(`${subject.subject}:${subject.id}`, { pql_score: tier('pql_score'), company_pql_score: tier('company_pql_score') })
  }
  return result
}

describe('pqlkit plan', () => {
  it('prints the tier shift on the sample stream, as simulate under the old and the new model gives it', async () => {
    await withScratchModel(next, async (file) => {
      const run = await runCaptured(['plan', '--model', file, '--from', CURRENT, '--events', EVENTS, '--now', NOW, '--json'], REPO_ROOT)
      expect(run.code).toBe(0)
      const plan = JSON.parse(run.stdout) as { tiers: { score: string; from: string; to: string; subjects: number }[]; signals: unknown[] }
      const before = tiers(current)
      const after = tiers(next)
      const expected = new Map<string, number>()
      for (const [subject, moved] of after) {
        const score = subject.startsWith('company:') ? 'company_pql_score' : 'pql_score'
        const key = `${score} ${before.get(subject)![score]} → ${moved[score]}`
        expected.set(key, (expected.get(key) ?? 0) + 1)
      }
      expect(new Map(plan.tiers.map((shift) => [`${shift.score} ${shift.from} → ${shift.to}`, shift.subjects]))).toEqual(expected)
      expect(plan.tiers.some((shift) => shift.from === 'Sales-Ready' && shift.to === 'SQL-Ready')).toBe(true)
      expect(plan.signals).toEqual([])

      const text = await runCaptured(['plan', '--model', file, '--from', CURRENT, '--events', EVENTS, '--now', NOW], REPO_ROOT)
      expect(text.stdout).toContain('Tier shift on')
      expect(text.stdout).toMatch(/pql_score: Sales-Ready → SQL-Ready\s+█+ \d+/)
    })
  }, 60_000)

  it('reads the portal: the tier options to change', async () => {
    expect((await runCaptured(['bootstrap', '--model', CURRENT], REPO_ROOT, env)).code).toBe(0)
    await withScratchModel(next, async (file) => {
      const run = await runCaptured(['plan', '--model', file], REPO_ROOT, env)
      expect(run.code).toBe(0)
      expect(run.stdout).toContain('options of contacts.pql_score_tier: add SQL-Ready; retire Sales-Ready (pqlkit apply drops an old option once no record holds it)')
      expect(run.stdout).toContain('options of companies.company_pql_score_tier: add SQL-Ready; retire Sales-Ready')
    })
  })
})

describe('pqlkit apply', () => {
  it('after syncing under the old model, every stored subject equals simulate under the new one', async () => {
    emulator.reset()
    const synced = await runCaptured(['sync', '--model', CURRENT, '--events', EVENTS, '--now', NOW], REPO_ROOT, env)
    expect(synced.code).toBe(0)
    await withScratchModel(next, async (file) => {
      const applied = await runCaptured(['apply', '--model', file, '--now', NOW, '--json'], REPO_ROOT, env)
      expect(applied.code).toBe(0)
      const report = JSON.parse(applied.stdout) as { updated: string[]; examined: number; changed: number }
      expect(report.updated).toEqual(['contacts.pql_score_tier', 'companies.company_pql_score_tier'])
      expect(report.changed).toBeGreaterThan(0)
    })
    expect(differencesFromSimulate(snapshot(emulator), simulate(loadModel(next), events, Date.parse(NOW)))).toEqual([])
  }, 120_000)
})
