import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BrowserContext, chromium, Page } from 'playwright-core'
import { runCaptured } from '@pqlkit/core'
import { REPO_ROOT } from '../repo-root'
import { bundledChromium } from './chromium'

/**
 * The HTML report in a real browser: the Chromium that `npm ci` installs (./chromium.ts),
 * headless, driven by playwright-core. Nothing that could phone home is left on.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]
const SCREENSHOT = join(REPO_ROOT, 'reports', 'backtest-report.png')

const cli = (...argv: string[]) => runCaptured(argv, REPO_ROOT)

type Opened = { page: Page; problems: string[] }

describe('the backtest HTML report in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-report-'))
  const html = join(dir, 'report.html')
  let context: BrowserContext
  let report: { rules: { label: string; lift: number | null }[]; buckets: { rate: number | null }[]; thresholds: { suggested: { threshold: number } } }

  /** Opens a page, collecting console errors, page errors and any request that is not the file itself. */
  async function open(path: string): Promise<Opened> {
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('request', (request) => {
      if (request.url() !== pathToFileURL(path).href) problems.push(`request: ${request.url()}`)
    })
    await page.goto(pathToFileURL(path).href, { waitUntil: 'load' })
    return { page, problems }
  }

  beforeAll(async () => {
    const result = await cli(
      'backtest',
      '--model', 'examples/project-management.yaml',
      '--events', 'examples/sample-events.jsonl',
      '--outcomes', 'examples/sample-outcomes.csv',
      '--html', html,
      '--json'
    )
    expect(result.code).toBe(0)
    report = JSON.parse(result.stdout)
    const browser = await bundledChromium()
    context = await chromium.launchPersistentContext(join(dir, 'profile'), { ...browser, headless: true, args: ARGS })
  }, 60_000)

  afterAll(async () => {
    await context?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('renders a bar per score bucket, as tall as its conversion rate, with no console error', async () => {
    const { page, problems } = await open(html)
    const bars = page.locator('#conversion-by-bucket rect.bar')
    expect(await bars.count()).toBe(6)
    const heights: number[] = []
    for (let i = 0; i < 6; i++) heights.push((await bars.nth(i).boundingBox())?.height ?? 0)
    const rates = report.buckets.map((bucket) => bucket.rate ?? 0)
    const tallest = rates.indexOf(Math.max(...rates))
    expect(heights[tallest]).toBeGreaterThan(50)
    for (let i = 0; i < 6; i++) {
      if (rates[i] === 0) expect(heights[i]).toBeLessThan(1)
      else expect(heights[i] / heights[tallest]).toBeCloseTo(rates[i] / rates[tallest], 1)
    }
    expect(problems).toEqual([])
    await page.close()
  }, 30_000)

  it('renders a bar per rule with a lift, longest first, labelled with the rule', async () => {
    const { page, problems } = await open(html)
    const withLift = report.rules.filter((rule) => rule.lift !== null)
    const bars = page.locator('#lift-by-rule rect.bar')
    expect(await bars.count()).toBe(withLift.length)
    const widths: number[] = []
    for (let i = 0; i < withLift.length; i++) widths.push((await bars.nth(i).boundingBox())?.width ?? 0)
    expect(widths[0]).toBeGreaterThan(200)
    expect([...widths].sort((a, b) => b - a)).toEqual(widths)
    expect(await page.locator('#lift-by-rule text.label').allTextContents()).toEqual(withLift.map((rule) => rule.label))
    expect(await page.locator('.card b').nth(2).textContent()).toBe(String(report.thresholds.suggested.threshold))
    expect(problems).toEqual([])
    await page.close()
  }, 30_000)

  it('would catch an external resource: the same page with a remote script logs a policy error', async () => {
    const tampered = join(dir, 'tampered.html')
    writeFileSync(tampered, readFileSync(html, 'utf8').replace('</body>', '<script src="https://cdn.example.com/chart.js"></script></body>'))
    const { page, problems } = await open(tampered)
    expect(problems.some((problem) => problem.startsWith('console:') && problem.includes('Content Security Policy'))).toBe(true)
    await page.close()
  }, 30_000)

  it('saves a screenshot of the whole report', async () => {
    const { page } = await open(html)
    await page.setViewportSize({ width: 1100, height: 900 })
    mkdirSync(join(REPO_ROOT, 'reports'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    const png = readFileSync(SCREENSHOT)
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    // A full-page capture of the report, not a blank or a clipped viewport.
    expect(png.readUInt32BE(16)).toBe(1100)
    expect(png.readUInt32BE(20)).toBeGreaterThan(1500)
    await page.close()
  }, 30_000)
})
