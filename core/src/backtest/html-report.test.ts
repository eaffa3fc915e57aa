import { loadModel } from '../model/load'
import { analyse } from './analyse'
import { htmlReport, ReportContext } from './html-report'
import type { ScoredSubject } from './reference-scores'

const model = loadModel(`
version: 1
name: html
signals:
  a: { flag: "A" }
  b: { flag: "B" }
scores:
  - property: pql_score
    rules:
      - { label: "Used <A> & more", when: a, points: 50 }
      - { label: Did B, when: b, points: 30 }
    tiers: { Cold: 0, Sales-Ready: 80 }
`)

function subject(id: string, converted: boolean, held: string): ScoredSubject {
  const contributions = [held.includes('A') ? 50 : 0, held.includes('B') ? 30 : 0]
  const score = contributions[0] + contributions[1]
  return { id, converted, referenceAt: 0, score, tier: score >= 80 ? 'Sales-Ready' : 'Cold', contributions, seen: true }
}

const report = analyse(model.contact.scores[0], [
  subject('a', true, 'AB'),
  subject('b', true, 'A'),
  subject('c', false, 'B'),
  subject('d', false, ''),
  subject('e', false, 'A')
])
const context: ReportContext = { model: 'Acme "PLG" <model>', subject: 'contact', reference: 'Converters scored when they converted.', unlisted: 2, unseen: 0 }

describe('htmlReport', () => {
  const html = htmlReport(report, context)

  it('is self-contained: no script, no link, no external URL, and a policy that forbids loading any', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|https?:/i)
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`)
  })

  it('draws one bar per bucket, per tier and per rule with a lift', () => {
    const bars = (id: string) => {
      const svg = html.slice(html.indexOf(`<svg id="${id}"`), html.indexOf('</svg>', html.indexOf(`<svg id="${id}"`)))
      return (svg.match(/<rect class="bar"/g) ?? []).length
    }
    expect(bars('conversion-by-bucket')).toBe(6)
    expect(bars('conversion-by-tier')).toBe(2)
    expect(bars('lift-by-rule')).toBe(2)
  })

  it('escapes model names and rule labels', () => {
    expect(html).toContain('Acme &quot;PLG&quot; &lt;model&gt;')
    expect(html).toContain('Used &lt;A&gt; &amp; more')
    expect(html).not.toContain('<A>')
  })

  it('states the numbers, the rules used and what was left out', () => {
    expect(html).toContain('5 contacts, 2 converted (40.0%)')
    expect(html).toContain('2 contacts with events are not in the outcomes file')
    expect(html).toContain(report.rulesUsed.threshold.replace(/"/g, '&quot;'))
    expect(html).toContain(`<b>${report.thresholds.suggested!.threshold}</b><span>suggested threshold`)
  })
})
