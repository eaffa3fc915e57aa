import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCaptured } from './captured'

const ROOT = join(__dirname, '..', '..', '..')
const MODEL = join('examples', 'project-management.yaml')
const EVENTS = join('examples', 'sample-events.jsonl')
const OUTCOMES = join('examples', 'sample-outcomes.csv')

const run = (...argv: string[]) => runCaptured(argv, ROOT)

const scratchDirs: string[] = []
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-backtest-'))
  scratchDirs.push(dir)
  return dir
}
afterAll(() => scratchDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

describe('pqlkit generate --outcomes', () => {
  it('with no other options writes the bundled sample and its outcomes, byte for byte', async () => {
    const outcomes = join(scratchDir(), 'outcomes.csv')
    const result = await run('generate', '--outcomes', outcomes)
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(readFileSync(join(ROOT, EVENTS), 'utf8'))
    expect(readFileSync(outcomes, 'utf8')).toBe(readFileSync(join(ROOT, OUTCOMES), 'utf8'))
  })

  it('takes --favour, and refuses it without --outcomes or for an event no user does', async () => {
    const outcomes = join(scratchDir(), 'outcomes.csv')
    expect((await run('generate', '--users', '50', '--outcomes', outcomes, '--favour', 'Teammate Invited')).code).toBe(0)
    expect(readFileSync(outcomes, 'utf8').split('\n')[0]).toBe('email,converted_at')
    expect((await run('generate', '--favour', 'Teammate Invited')).code).toBe(2)
    const unknown = await run('generate', '--outcomes', outcomes, '--favour', 'Teammate Invited, Rocket Launched')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no user does "Rocket Launched"')
  })
})

describe('pqlkit backtest', () => {
  it('prints conversion by bucket and tier, rules by lift, and the thresholds, as tables and bars', async () => {
    const result = await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES)
    expect(result.code).toBe(0)
    const out = result.stdout
    expect(out).toMatch(/^Backtest of pql_score \(Project management SaaS\) on 300 contacts: 16 converted \(5\.3%\)$/m)
    expect(out).toContain('Converters scored when they converted; the others at 2026-10-31T21:05:32.037Z (the end of the data).')
    expect(out).toMatch(/^bucket\s+contacts\s+converted\s+rate$/m)
    for (const bucket of ['0–19', '20–39', '40–59', '60–79', '80–99', '100\\+']) expect(out).toMatch(new RegExp(`^${bucket}\\s+\\d+\\s+\\d+\\s+\\d+\\.\\d%$`, 'm'))
    expect(out).toMatch(/^Sales-Ready\s+80\s+\d+\s+\d+\s+\d+\.\d%$/m)
    expect(out).toMatch(/^100\+\s+█+ \d/m)
    const rules = out.slice(out.indexOf('Rules by lift')).split('\n').slice(3, 5).map((line) => line.split(/\s{2,}/)[0])
    expect(rules.sort()).toEqual(['Tried a paid feature', 'Used an integration'])
    expect(out).toMatch(/^suggested\s+\d+\s+\d+\s+\d+\.\d%\s+\d+\.\d%\s+0\.\d{3}\s+best F1$/m)
    expect(out).toMatch(/^Sales-Ready tier\s+80\s+/m)
    expect(out).toContain('Suggested: the threshold T with the best F1 score')
    // Progress goes to stderr (plain lines off a terminal), nothing else.
    expect(result.stderr).toMatch(/^replaying events \(kB read\): (\d+)\/\1$/m)
    expect(result.stderr.split('\n').filter((line) => line && !line.startsWith('replaying events (kB read): '))).toEqual([])
  })

  it('--json prints the whole report with the reference times', async () => {
    const result = await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--lead', '1d', '--json')
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ model: 'Project management SaaS', subject: 'contact', lead: '1d', asOf: null, subjects: 300, converted: 16 })
    expect(report.endOfData).toBe('2026-10-31T21:05:32.037Z')
    expect(report.reference).toContain('Converters scored 1d before converting')
    expect(report.buckets).toHaveLength(6)
    expect(report.buckets.reduce((sum: number, bucket: { subjects: number }) => sum + bucket.subjects, 0)).toBe(300)
    expect(report.rules).toHaveLength(11)
    expect(report.thresholds.suggested.rule).toContain('best F1')
  })

  it('a lead before conversion lowers the converters’ scores', async () => {
    const at = async (lead: string) =>
      JSON.parse((await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--lead', lead, '--json')).stdout)
    const [now, weekBefore] = [await at('0d'), await at('7d')]
    expect(weekBefore.averageScore.converted).toBeLessThan(now.averageScore.converted)
    expect(weekBefore.averageScore.notConverted).toBe(now.averageScore.notConverted)
  })

  it('--as-of scores the non-converters at that time', async () => {
    const backtest = async (...extra: string[]) =>
      JSON.parse((await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--json', ...extra)).stdout)
    const [atEnd, midway] = [await backtest(), await backtest('--as-of', '2026-10-15T00:00:00Z')]
    expect(midway.asOf).toBe('2026-10-15T00:00:00.000Z')
    expect(midway.reference).toContain('the others at 2026-10-15T00:00:00.000Z')
    expect(midway.averageScore.converted).toBe(atEnd.averageScore.converted)
    expect(midway.averageScore.notConverted).not.toBe(atEnd.averageScore.notConverted)
    // Users who sign up after --as-of have no events yet.
    expect(midway.unseen).toBeGreaterThan(atEnd.unseen)
  })

  it('writes a self-contained HTML report with --html', async () => {
    const html = join(scratchDir(), 'report.html')
    const result = await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--html', html)
    expect(result.code).toBe(0)
    expect(result.stderr).toContain(`HTML report written to ${html}`)
    const page = readFileSync(html, 'utf8')
    expect(page).toMatch(/^<!doctype html>/)
    expect(page).toContain('<svg id="conversion-by-bucket"')
    expect(page).toContain('<svg id="lift-by-rule"')
  })

  it('reports bad outcome rows by line number, skips them, scores the rest and exits 1', async () => {
    const dir = scratchDir()
    const lines = readFileSync(join(ROOT, OUTCOMES), 'utf8').split('\n')
    lines.splice(3, 0, 'nobody,2026-10-01', 'ada@acme.io,last tuesday')
    lines.splice(10, 0, lines[1])
    writeFileSync(join(dir, 'outcomes.csv'), lines.join('\n'))
    const result = await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', join(dir, 'outcomes.csv'), '--json')
    expect(result.code).toBe(1)
    const rejected = result.stderr.split('\n').filter((line) => line.startsWith('rejected '))
    expect(rejected).toEqual([
      `rejected ${join(dir, 'outcomes.csv')}:4: "nobody" is not an email`,
      `rejected ${join(dir, 'outcomes.csv')}:5: converted_at "last tuesday" is not an ISO 8601 date or date-time`,
      `rejected ${join(dir, 'outcomes.csv')}:11: ${lines[1].split(',')[0]} is already listed on line 2`
    ])
    expect(JSON.parse(result.stdout).subjects).toBe(300)
  })

  it('backtests companies by key with --subject company', async () => {
    const outcomes = join(scratchDir(), 'companies.csv')
    writeFileSync(outcomes, 'company,converted_at\nco_0001,2026-10-20T00:00:00Z\nco_0002,\nco_9999,\n')
    const result = await run('backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', outcomes, '--subject', 'company', '--json')
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ subject: 'company', score: 'company_pql_score', subjects: 3, converted: 1, unseen: 1 })
    expect(report.unlisted).toBeGreaterThan(50)
  })

  it('exits 1 for a model without the subject’s section, and 2 for a wrong command line', async () => {
    const model = join(scratchDir(), 'contacts-only.yaml')
    writeFileSync(model, 'version: 1\nname: x\nsignals:\n  p: { count: "Project Created" }\nscores:\n  - property: s\n    rules: [{ when: p, points: 1 }]\n')
    const noCompany = await run('backtest', '--model', model, '--events', EVENTS, '--outcomes', OUTCOMES, '--subject', 'company')
    expect(noCompany.code).toBe(1)
    expect(noCompany.stderr).toContain('the model has no company section')
    for (const argv of [
      ['backtest', '--model', MODEL, '--events', EVENTS],
      ['backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--lead', 'a week'],
      ['backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--as-of', 'soon'],
      ['backtest', '--model', MODEL, '--events', EVENTS, '--outcomes', OUTCOMES, '--subject', 'deal']
    ]) {
      const result = await run(...argv)
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('(run "pqlkit backtest --help" for its options and examples)')
    }
  })
})
