import { simulate, SimulationResult } from '../engine/simulate'
import { streamEvents } from './events-file'
import { Io, parseNow, readModel } from './io'
import { renderBars, renderTable } from './table'

export type SimulateOptions = { model: string; mappings?: string; events: string; now?: string; json?: boolean }

/** `--json`: the subjects as SPEC §7 describes them, one element per subject. */
export function simulationJson(result: SimulationResult): string {
  return `${JSON.stringify(result.subjects, null, 2)}\n`
}

/** A subject as a leaderboard shows it: simulate's output, or properties read back from HubSpot. */
export type Ranked = { id: string; properties: Record<string, unknown> }

function topReasons(subject: Ranked, property: string, count = 3): string {
  return String(subject.properties[`${property}_reasons`] ?? '')
    .split('; ')
    .slice(0, count)
    .join('; ')
}

/** Subjects by a score, highest first: score, tier and top reasons. */
export function leaderboard(subjects: Ranked[], property: string, label: string, limit?: number): string {
  const ranked = [...subjects].sort(
    (a, b) => Number(b.properties[property] ?? 0) - Number(a.properties[property] ?? 0) || (a.id < b.id ? -1 : 1)
  )
  const shown = limit === undefined ? ranked : ranked.slice(0, limit)
  return renderTable(
    [label, property, 'tier', 'top reasons'],
    shown.map((subject) => [
      subject.id,
      Number(subject.properties[property] ?? 0),
      String(subject.properties[`${property}_tier`] || '–'),
      topReasons(subject, property)
    ])
  )
}

/** How many subjects are in each tier (and below the lowest), as a bar chart. */
export function tierDistribution(subjects: Ranked[], property: string, tiers: string[]): string {
  const counts = new Map<string, number>([['(no tier)', 0], ...tiers.map((tier): [string, number] => [tier, 0])])
  for (const subject of subjects) {
    const tier = String(subject.properties[`${property}_tier`] || '(no tier)')
    counts.set(tier, (counts.get(tier) ?? 0) + 1)
  }
  if (counts.get('(no tier)') === 0) counts.delete('(no tier)')
  return renderBars([...counts].map(([label, value]) => ({ label, value })))
}

export function simulateCommand(io: Io, options: SimulateOptions): number {
  const model = readModel(io, options.model, options.mappings)
  const now = parseNow(options.now)
  const file = streamEvents(io, options.events)
  const result = simulate(model, file.input, now)

  const problems = [
    ...file.errors.map((error) => `${options.events}:${error.line}: ${error.message}`),
    ...result.rejected.map(({ index, error }) => `${options.events}:${index}: ${error.message}`)
  ]
  for (const problem of problems) io.stderr.write(`rejected ${problem}\n`)
  if (result.afterNow > 0) io.stderr.write(`${result.afterNow} events dated after --now were not applied\n`)

  if (options.json) {
    io.stdout.write(simulationJson(result))
  } else {
    const contacts = result.subjects.filter((subject) => subject.subject === 'contact')
    const companies = result.subjects.filter((subject) => subject.subject === 'company')
    const evaluated = `as of ${new Date(result.now).toISOString()}`
    for (const [subjects, section] of [
      [contacts, model.contact],
      [companies, model.company]
    ] as const) {
      const score = section?.scores[0]
      if (!score || subjects.length === 0) continue
      io.stdout.write(`\n${subjects.length} ${subjects[0].subject === 'contact' ? 'contacts' : 'companies'} ${evaluated}\n`)
      io.stdout.write(leaderboard(subjects, score.property, subjects[0].subject === 'contact' ? 'email' : 'company'))
      if (score.tiers.length > 0) {
        io.stdout.write(`\n${score.property} tiers\n`)
        io.stdout.write(tierDistribution(subjects, score.property, score.tiers.map((tier) => tier.name)))
      }
    }
  }
  if (problems.length > 0) {
    io.stderr.write(`${problems.length} of ${file.lines} events rejected\n`)
    return 1
  }
  return 0
}
