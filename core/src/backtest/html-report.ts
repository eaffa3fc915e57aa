import type { SubjectKind } from '../model/compile'
import type { BacktestReport, Conversion, ThresholdFit } from './analyse'

/** What the report is about, beyond the numbers. */
export type ReportContext = {
  model: string
  subject: SubjectKind
  /** How the reference times were chosen, in words. */
  reference: string
  /** Subjects with events that the outcomes do not list. */
  unlisted: number
  /** Listed subjects with no event before their reference time. */
  unseen: number
}

type Bar = { label: string; value: number; text: string; title: string }

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const percent = (rate: number | null) => (rate === null ? '–' : `${(rate * 100).toFixed(1)}%`)
const fixed = (value: number | null, digits: number) => (value === null ? '–' : value.toFixed(digits))
const signed = (points: number | null) => (points === null ? '–' : points > 0 ? `+${points}` : String(points))
const counts = ({ subjects, converted }: Conversion) => `${converted} of ${subjects}`

/** Vertical bars, one per row, heights proportional to the values. */
function columnChart(id: string, title: string, bars: Bar[]): string {
  const width = 640
  const height = 260
  const top = 24
  const bottom = 40
  const plot = height - top - bottom
  const slot = width / Math.max(1, bars.length)
  const max = Math.max(...bars.map((bar) => bar.value), Number.MIN_VALUE)
  const columns = bars
    .map((bar, index) => {
      const h = (bar.value / max) * plot
      const x = index * slot + slot * 0.15
      const y = top + plot - h
      return [
        `<g><title>${escape(bar.title)}</title>`,
        `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" rx="3"/>`,
        `<text class="value" x="${(x + slot * 0.35).toFixed(1)}" y="${(y - 6).toFixed(1)}">${escape(bar.text)}</text>`,
        `<text class="axis" x="${(x + slot * 0.35).toFixed(1)}" y="${height - bottom + 18}">${escape(bar.label)}</text></g>`
      ].join('')
    })
    .join('\n')
  return `<figure>
<figcaption>${escape(title)}</figcaption>
<svg id="${id}" class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">
<line class="baseline" x1="0" x2="${width}" y1="${top + plot}" y2="${top + plot}"/>
${columns}
</svg>
</figure>`
}

/** Horizontal bars, one per row, with a marker at `reference` (a lift of 1: no better than average). */
function barChart(id: string, title: string, bars: Bar[], reference: number): string {
  const labelWidth = 230
  const width = 640
  const row = 30
  const height = bars.length * row + 30
  const plot = width - labelWidth - 70
  const max = Math.max(reference, ...bars.map((bar) => bar.value))
  const x = (value: number) => labelWidth + (value / max) * plot
  const rows = bars
    .map((bar, index) => {
      const y = 10 + index * row
      return [
        `<g><title>${escape(bar.title)}</title>`,
        `<text class="label" x="${labelWidth - 10}" y="${y + 15}">${escape(bar.label)}</text>`,
        `<rect class="bar" x="${labelWidth}" y="${y}" width="${(x(bar.value) - labelWidth).toFixed(1)}" height="${row - 10}" rx="3"/>`,
        `<text class="value" x="${(x(bar.value) + 6).toFixed(1)}" y="${y + 15}">${escape(bar.text)}</text></g>`
      ].join('')
    })
    .join('\n')
  return `<figure>
<figcaption>${escape(title)}</figcaption>
<svg id="${id}" class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">
${rows}
<line class="reference" x1="${x(reference).toFixed(1)}" x2="${x(reference).toFixed(1)}" y1="4" y2="${height - 14}"/>
<text class="axis" x="${x(reference).toFixed(1)}" y="${height - 2}">lift ${reference}</text>
</svg>
</figure>`
}

function table(headers: string[], rows: string[][], numeric: boolean[]): string {
  const cell = (tag: string, text: string, index: number) => `<${tag}${numeric[index] ? ' class="n"' : ''}>${escape(text)}</${tag}>`
  return `<table>
<thead><tr>${headers.map((header, index) => cell('th', header, index)).join('')}</tr></thead>
<tbody>
${rows.map((row) => `<tr>${row.map((text, index) => cell('td', text, index)).join('')}</tr>`).join('\n')}
</tbody>
</table>`
}

function thresholdRow(name: string, fit: ThresholdFit, note: string): string[] {
  return [name, String(fit.threshold), String(fit.flagged), percent(fit.precision), percent(fit.recall), fit.f1.toFixed(3), note]
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }
main { max-width: 960px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.lede { color: #57606a; margin: 0 0 16px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { flex: 1 1 180px; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 14px; }
.card b { display: block; font-size: 22px; }
.card span { color: #57606a; font-size: 13px; }
figure { margin: 12px 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
.bar { fill: #2f81f7; }
#lift-by-rule .bar { fill: #1a7f37; }
.baseline, .reference { stroke: #8c959f; stroke-width: 1; }
.reference { stroke-dasharray: 4 3; }
text { font-size: 13px; fill: #1f2328; }
text.value, text.axis { text-anchor: middle; }
#lift-by-rule text.value { text-anchor: start; }
text.label { text-anchor: end; }
text.axis { fill: #57606a; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; }
th { background: #f6f8fa; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #57606a; font-size: 13px; }
`

/**
 * The backtest as one self-contained HTML page: inline CSS and SVG bar charts, no script, no
 * external file or font (its Content-Security-Policy forbids them).
 */
export function htmlReport(report: BacktestReport, context: ReportContext): string {
  const who = context.subject === 'contact' ? 'contacts' : 'companies'
  const { suggested, model, seeds } = report.thresholds
  const bucketBars: Bar[] = report.buckets.map((bucket) => ({
    label: bucket.label,
    value: bucket.rate ?? 0,
    text: percent(bucket.rate),
    title: `${bucket.label}: ${counts(bucket)} converted`
  }))
  const tierBars: Bar[] = report.tiers.map((tier) => ({
    label: tier.tier,
    value: tier.rate ?? 0,
    text: percent(tier.rate),
    title: `${tier.tier}: ${counts(tier)} converted`
  }))
  const liftBars: Bar[] = report.rules
    .filter((rule) => rule.lift !== null)
    .map((rule) => ({
      label: rule.label,
      value: rule.lift!,
      text: `× ${rule.lift!.toFixed(2)}`,
      title: `${rule.label}: ${percent(rule.held.rate)} when held (${counts(rule.held)}), ${percent(rule.notHeld.rate)} when not (${counts(rule.notHeld)})`
    }))
  const notes = [
    context.unlisted > 0 ? `${context.unlisted} ${who} with events are not in the outcomes file and are left out.` : '',
    context.unseen > 0 ? `${context.unseen} listed ${who} had no event before their reference time (scored from nothing).` : ''
  ].filter(Boolean)

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pqlkit backtest: ${escape(context.model)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Backtest of ${escape(report.score)}: ${escape(context.model)}</h1>
<p class="lede">${report.subjects} ${who}, ${report.converted} converted (${percent(report.rate)}). ${escape(context.reference)}</p>
${notes.map((note) => `<p class="note">${escape(note)}</p>`).join('\n')}
<div class="cards">
<div class="card"><b>${fixed(report.averageScore.converted, 1)}</b><span>average score of converters at reference</span></div>
<div class="card"><b>${fixed(report.averageScore.notConverted, 1)}</b><span>average score of the others</span></div>
<div class="card"><b>${suggested ? suggested.threshold : '–'}</b><span>suggested threshold (F1 ${suggested ? suggested.f1.toFixed(3) : '–'})</span></div>
<div class="card"><b>${model.threshold}</b><span>${escape(model.name)} (F1 ${model.f1.toFixed(3)})</span></div>
</div>

<h2>Conversion by score bucket</h2>
${columnChart('conversion-by-bucket', `Conversion rate by ${report.score} bucket`, bucketBars)}
${table(
  ['bucket', who, 'converted', 'rate'],
  report.buckets.map((bucket) => [bucket.label, String(bucket.subjects), String(bucket.converted), percent(bucket.rate)]),
  [false, true, true, true]
)}

<h2>Conversion by tier</h2>
${columnChart('conversion-by-tier', `Conversion rate by ${report.score} tier`, tierBars)}
${table(
  ['tier', 'from', who, 'converted', 'rate'],
  report.tiers.map((tier) => [tier.tier, tier.threshold === undefined ? '' : String(tier.threshold), String(tier.subjects), String(tier.converted), percent(tier.rate)]),
  [false, true, true, true, true]
)}

<h2>Lift by rule</h2>
${liftBars.length > 0 ? barChart('lift-by-rule', 'Lift: conversion when the rule held ÷ when it did not', liftBars, 1) : '<p class="note">No rule has a lift: each held for everyone or for no one.</p>'}
${table(
  ['rule', 'held', 'rate held', 'not held', 'rate not held', 'lift', 'points', 'suggested'],
  report.rules.map((rule) => [
    rule.label,
    counts(rule.held),
    percent(rule.held.rate),
    counts(rule.notHeld),
    percent(rule.notHeld.rate),
    fixed(rule.lift, 2),
    `${signed(rule.points)}${rule.kind === 'per' ? ' (cap)' : ''}`,
    signed(rule.suggestedPoints)
  ]),
  [false, true, true, true, true, true, true, true]
)}
<p class="note">${escape(report.rulesUsed.lift)}. Suggested points: ${escape(report.rulesUsed.points)}.</p>

<h2>Threshold</h2>
${table(
  ['threshold', 'score ≥', 'flagged', 'precision', 'recall', 'F1', ''],
  [
    ...(suggested ? [thresholdRow('suggested', suggested, 'best F1')] : []),
    thresholdRow(model.name, model, 'the model today'),
    ...(seeds ? [thresholdRow("seeds' rule of thumb", seeds, `15% below the converters' average (10–20%: ${seeds.from}–${seeds.to})`)] : [])
  ],
  [false, true, true, true, true, true, false]
)}
<p class="note">Suggested: ${escape(report.rulesUsed.threshold)}.</p>
</main>
</body>
</html>
`
}
