import type { SubjectKind } from '../model/compile'
import { EMAIL, normalizeEmail } from '../engine/event'
import { parseTimestamp } from '../time'

/** One subject's known outcome: converted at `convertedAt` (ms), or not converted. */
export type Outcome = { id: string; convertedAt?: number; line: number }

export type OutcomesFile = { outcomes: Outcome[]; errors: { line: number; message: string }[] }

/** The cells of one CSV line (RFC 4180 quoting, on one line); undefined when a quote is left open. */
function cells(text: string): string[] | undefined {
  const result: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      result.push(cell)
      cell = ''
    } else cell += c
  }
  if (quoted) return undefined
  result.push(cell)
  return result
}

/**
 * Reads an outcomes CSV: `email,converted_at` for contacts (`company,converted_at` with
 * company keys), `converted_at` an ISO 8601 date or date-time, empty when the subject has not
 * converted. A first line whose second cell is `converted_at` is the header. Bad rows (wrong
 * number of cells, no id, not an email, an unreadable date, an id listed twice) are reported
 * by line number and skipped.
 */
export function parseOutcomes(text: string, subject: SubjectKind): OutcomesFile {
  const result: OutcomesFile = { outcomes: [], errors: [] }
  const seen = new Map<string, number>()
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, index) => {
      const line = index + 1
      const text = raw.replace(/\r$/, '')
      if (text.trim() === '') return
      const row = cells(text)
      const fail = (message: string) => result.errors.push({ line, message })
      if (row === undefined) return fail('a quoted cell is not closed')
      if (row.length !== 2) return fail(`expected 2 cells (${subject === 'contact' ? 'email' : 'company'},converted_at), found ${row.length}`)
      const [first, second] = row.map((cell) => cell.trim())
      if (index === 0 && second.toLowerCase() === 'converted_at') return
      if (first === '') return fail(`no ${subject === 'contact' ? 'email' : 'company key'}`)
      if (subject === 'contact' && !EMAIL.test(first)) return fail(`${JSON.stringify(first)} is not an email`)
      const id = subject === 'contact' ? normalizeEmail(first) : first
      let convertedAt: number | undefined
      if (second !== '') {
        convertedAt = parseTimestamp(second)
        if (Number.isNaN(convertedAt)) return fail(`converted_at ${JSON.stringify(second)} is not an ISO 8601 date or date-time`)
      }
      const earlier = seen.get(id)
      if (earlier !== undefined) return fail(`${id} is already listed on line ${earlier}`)
      seen.set(id, line)
      result.outcomes.push({ id, convertedAt, line })
    })
  return result
}
