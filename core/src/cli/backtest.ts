import type { SubjectKind } from '../model/compile'
import { DURATION_PATTERN, durationMs } from '../model/duration'
import { analyse, BacktestReport, RuleLift, ThresholdFit } from '../backtest/analyse'
import { htmlReport, ReportContext } from '../backtest/html-report'
import { parseOutcomes } from '../backtest/outcomes'
import { backtestSection, scoreAtReference } from '../backtest/reference-scores'
import { parseTimestamp } from '../time'
import { streamEvents } from './events-file'
import { InputError, Io, readModel, readText, UsageError, writeText } from './io'
import { progress } from './progress'
import { renderBars, renderTable } from './table'

export type BacktestOptions = {
  mappings?: string
  model: string
  events: string
  outcomes: string
  lead?: string
  'as-of'?: string
  subject?: string
  html?: string
  json?: boolean
}

const percent = (rate: number | null) => (rate === null ? '–' : `${(rate * 100).toFixed(1)}%`).padStart(6)
const fixed = (value: number | null, digits: number) => (value === null ? '–' : value.toFixed(digits))
const signed = (points: number | null) => (points === null ? '–' : points > 0 ? `+${points}` : String(points))

function thresholdRow(name: string, fit: ThresholdFit, note: string): (string | number)[] {
  return [name, fit.threshold, fit.flagged, percent(fit.precision), percent(fit.recall), fit.f1.toFixed(3), note]
}

function ruleRow(rule: RuleLift): (string | number)[] {
  return [
    rule.label,
    rule.held.subjects,
    percent(rule.held.rate),
    rule.notHeld.subjects,
    percent(rule.notHeld.rate),
    fixed(rule.lift, 2).padStart(6),
    `${signed(rule.points)}${rule.kind === 'per' ? ' cap' : ''}`,
    signed(rule.suggestedPoints)
  ]
}

/** The report as text: tables, and bar charts drawn with block characters. */
export function backtestText(report: BacktestReport, context: ReportContext): string {
  const who = context.subject === 'contact' ? 'contacts' : 'companies'
  const { suggested, model, seeds } = report.thresholds
  const lines = [
    `Backtest of ${report.score} (${context.model}) on ${report.subjects} ${who}: ${report.converted} converted (${percent(report.rate).trim()})`,
    context.reference,
    ...(context.unlisted > 0 ? [`${context.unlisted} ${who} with events are not in the outcomes file and are left out.`] : []),
    ...(context.unseen > 0 ? [`${context.unseen} listed ${who} had no event before their reference time (scored from nothing).`] : []),
    `Average score at reference: converters ${fixed(report.averageScore.converted, 1)}, others ${fixed(report.averageScore.notConverted, 1)}`,
    '',
    'Conversion by score bucket',
    renderTable(
      ['bucket', who, 'converted', 'rate'],
      report.buckets.map((bucket) => [bucket.label, bucket.subjects, bucket.converted, percent(bucket.rate)])
    ),
    renderBars(report.buckets.map((bucket) => ({ label: bucket.label, value: round1((bucket.rate ?? 0) * 100) }))) +
      '(conversion rate, %)\n',
    'Conversion by tier',
    renderTable(
      ['tier', 'from', who, 'converted', 'rate'],
      report.tiers.map((tier) => [tier.tier, String(tier.threshold ?? '').padStart(4), tier.subjects, tier.converted, percent(tier.rate)])
    ),
    'Rules by lift',
    renderTable(['rule', 'held', 'rate', 'not held', 'rate', 'lift', 'points', 'suggested'], report.rules.map(ruleRow)),
    renderBars(
      report.rules.filter((rule) => rule.lift !== null).map((rule) => ({ label: rule.label, value: round1(rule.lift!) }))
    ) + '(lift: × conversion when held vs not)\n',
    `${report.rulesUsed.lift}.`,
    `Suggested points: ${report.rulesUsed.points}.`,
    '',
    'Threshold (score ≥ T predicts conversion)',
    renderTable(
      ['', 'T', 'flagged', 'precision', 'recall', 'F1', ''],
      [
        ...(suggested ? [thresholdRow('suggested', suggested, 'best F1')] : []),
        thresholdRow(model.name, model, 'the model today'),
        ...(seeds ? [thresholdRow("seeds' rule", seeds, `15% below converters' average (10–20%: ${seeds.from}–${seeds.to})`)] : [])
      ]
    ),
    suggested ? `Suggested: ${report.rulesUsed.threshold}.` : 'No converters: no threshold to suggest.'
  ]
  return `${lines.join('\n')}\n`
}

const round1 = (value: number) => Math.round(value * 10) / 10

function subjectOption(text: string | undefined): SubjectKind {
  if (text === undefined || text === 'contact' || text === 'company') return text ?? 'contact'
  throw new UsageError('--subject takes contact or company')
}

function leadOption(text: string | undefined): number {
  if (text === undefined) return 0
  if (!DURATION_PATTERN.test(text)) throw new UsageError(`--lead takes a duration such as 7d, 24h or 2w, not ${text}`)
  return durationMs(text)
}

function asOfOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const at = parseTimestamp(text)
  if (Number.isNaN(at)) throw new UsageError(`--as-of ${text} is not an ISO 8601 date-time`)
  return at
}

/**
 * `pqlkit backtest`: scores each subject of the outcomes file at its reference time and
 * prints how the score predicted conversion. Bad event lines and outcome rows are listed on
 * stderr and skipped; the command then exits 1 after printing the results.
 */
export function backtestCommand(io: Io, options: BacktestOptions): number {
  const subject = subjectOption(options.subject)
  const leadMs = leadOption(options.lead)
  const asOf = asOfOption(options['as-of'])
  const model = readModel(io, options.model, options.mappings)
  const section = backtestSection(model, subject)
  if (typeof section === 'string') throw new InputError(`cannot backtest ${options.model}: ${section}`)
  const outcomes = parseOutcomes(readText(io, options.outcomes, 'outcomes file'), subject)
  const file = streamEvents(io, options.events)

  const bar = progress(io.stderr, 'replaying events (kB read)')
  const scored = scoreAtReference(
    model,
    file.input,
    outcomes.outcomes,
    { subject, leadMs, asOf, onProgress: (done, total) => bar.update(Math.ceil(done / 1000), Math.ceil(total / 1000)) }
  )
  bar.stop()

  const problems = [
    ...file.errors.map((error) => `${options.events}:${error.line}: ${error.message}`),
    ...scored.rejected.map(({ index, error }) => `${options.events}:${index}: ${error.message}`),
    ...outcomes.errors.map((error) => `${options.outcomes}:${error.line}: ${error.message}`)
  ]
  for (const problem of problems) io.stderr.write(`rejected ${problem}\n`)

  const report = analyse(scored.score, scored.subjects)
  const others = asOf === undefined ? `${new Date(scored.endOfData).toISOString()} (the end of the data)` : new Date(asOf).toISOString()
  const context: ReportContext = {
    model: model.name,
    subject,
    reference: `Converters scored ${leadMs === 0 ? 'when they converted' : `${options.lead} before converting`}; the others at ${others}.`,
    unlisted: scored.unlisted,
    unseen: scored.subjects.filter((scoredSubject) => !scoredSubject.seen).length
  }
  if (options.json) {
    const times = { lead: options.lead ?? '0d', asOf: asOf === undefined ? null : new Date(asOf).toISOString(), endOfData: new Date(scored.endOfData).toISOString() }
    io.stdout.write(`${JSON.stringify({ ...context, ...times, ...report }, null, 2)}\n`)
  }
  else io.stdout.write(backtestText(report, context))
  if (options.html !== undefined) {
    writeText(io, options.html, htmlReport(report, context), 'HTML report')
    io.stderr.write(`HTML report written to ${options.html}\n`)
  }
  return problems.length > 0 ? 1 : 0
}
