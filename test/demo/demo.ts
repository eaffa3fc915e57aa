import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { leaderboard, loadModel, Output, runCli, segmentMessageToProductEvent, simulate, tierDistribution } from '@pqlkit/core'
import { startEmulator } from '../harness/hubspot-emulator'
import { REPO_ROOT as ROOT } from '../repo-root'

export const DEMO_MODEL = 'examples/project-management.yaml'
export const DEMO_EVENTS = 'examples/sample-events.jsonl'
/** The sample stream covers October 2026; the demo evaluates it as of its end. */
export const DEMO_NOW = '2026-11-01T00:00:00.000Z'

type StoredRecord = { id: string; properties: Record<string, string | null> }
export type DemoResult = {
  contacts: StoredRecord[]
  companies: StoredRecord[]
  /** Subjects whose stored properties differ from `pqlkit simulate` (should be none). */
  mismatches: string[]
  calls: number
}

/**
 * `npm start`: a local HubSpot emulator (no account, no network), `pqlkit bootstrap` and
 * `pqlkit sync` of the sample stream through the same pipeline the hosts use, then the
 * leaderboard and tier distribution read back from the emulator, checked against
 * `pqlkit simulate` on the same events.
 */
export async function runDemo(stdout: Output, stderr: Output): Promise<DemoResult> {
  const emulator = await startEmulator()
  try {
    const io = {
      stdout,
      stderr,
      cwd: ROOT,
      env: { HUBSPOT_ACCESS_TOKEN: emulator.accessToken, HUBSPOT_BASE_URL: emulator.url }
    }
    stdout.write(`Local HubSpot emulator at ${emulator.url} (HubSpot's default rate limit: 100 calls per 10 s)\n\n`)
    stdout.write(`$ pqlkit bootstrap --model ${DEMO_MODEL}\n`)
    if ((await runCli(['bootstrap', '--model', DEMO_MODEL], io)) !== 0) throw new Error('bootstrap failed')
    stdout.write(`\n$ pqlkit sync --model ${DEMO_MODEL} --events ${DEMO_EVENTS} --now ${DEMO_NOW}\n`)
    if ((await runCli(['sync', '--model', DEMO_MODEL, '--events', DEMO_EVENTS, '--now', DEMO_NOW], io)) !== 0) {
      throw new Error('sync failed')
    }

    const dump = emulator.dump() as { contacts: StoredRecord[]; companies: StoredRecord[] }
    const model = loadModel(readFileSync(join(ROOT, DEMO_MODEL), 'utf8'), DEMO_MODEL)
    const contacts = dump.contacts.map((record) => ({ id: record.properties.email ?? record.id, properties: record.properties }))
    const companies = dump.companies.map((record) => ({
      id: record.properties.name ?? record.properties.pqlkit_company_key ?? record.id,
      properties: record.properties
    }))
    const score = model.contact.scores[0]
    stdout.write(`\nTop contacts in HubSpot by ${score.property}\n`)
    stdout.write(leaderboard(contacts, score.property, 'email', 15))
    stdout.write(`\n${score.property} tiers (${contacts.length} contacts)\n`)
    stdout.write(tierDistribution(contacts, score.property, score.tiers.map((tier) => tier.name)))
    const companyScore = model.company?.scores[0]
    if (companyScore) {
      stdout.write(`\nTop companies in HubSpot by ${companyScore.property}\n`)
      stdout.write(leaderboard(companies, companyScore.property, 'company', 8))
    }

    const events = readFileSync(join(ROOT, DEMO_EVENTS), 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => segmentMessageToProductEvent(JSON.parse(line)))
    const expected = simulate(model, events, Date.parse(DEMO_NOW))
    const byKey = new Map<string, StoredRecord>([
      ...dump.contacts.map((record): [string, StoredRecord] => [`contact:${record.properties.email}`, record]),
      ...dump.companies.map((record): [string, StoredRecord] => [`company:${record.properties.pqlkit_company_key}`, record])
    ])
    const mismatches: string[] = []
    for (const subject of expected.subjects) {
      const record = byKey.get(`${subject.subject}:${subject.id}`)
      const differs = Object.entries(subject.properties).some(
        // HubSpot keeps no empty values: an empty reasons text is an absent property.
        ([name, value]) => !name.endsWith('_updated_at') && (record?.properties[name] ?? '') !== String(value)
      )
      if (!record || differs) mismatches.push(`${subject.subject} ${subject.id}`)
    }
    stdout.write(
      mismatches.length === 0
        ? `\n✓ HubSpot holds exactly what pqlkit simulate computes for all ${expected.subjects.length} contacts and companies\n`
        : `\n✗ ${mismatches.length} subjects differ from pqlkit simulate: ${mismatches.slice(0, 5).join(', ')}\n`
    )
    return { contacts: dump.contacts, companies: dump.companies, mismatches, calls: emulator.stats().requests }
  } finally {
    await emulator.stop()
  }
}
