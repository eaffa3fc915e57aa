import { parseOutcomes } from './outcomes'

describe('parseOutcomes', () => {
  it('reads email,converted_at rows after the header; an empty converted_at means not converted', () => {
    const file = parseOutcomes('email,converted_at\nada@acme.io,2026-10-03T09:12:44Z\nbob@acme.io,\n', 'contact')
    expect(file.errors).toEqual([])
    expect(file.outcomes).toEqual([
      { id: 'ada@acme.io', convertedAt: Date.parse('2026-10-03T09:12:44Z'), line: 2 },
      { id: 'bob@acme.io', convertedAt: undefined, line: 3 }
    ])
  })

  it('lower-cases and trims emails as the core does, and reads a date without a time as UTC midnight', () => {
    const file = parseOutcomes(' Ada@Acme.IO , 2026-10-03 \n', 'contact')
    expect(file.outcomes).toEqual([{ id: 'ada@acme.io', convertedAt: Date.parse('2026-10-03T00:00:00Z'), line: 1 }])
  })

  it('takes quoted cells, a byte-order mark and CRLF line ends (spreadsheet exports)', () => {
    const file = parseOutcomes('\uFEFF"email","converted_at"\r\n"o""neil@acme.io","2026-10-03T10:00:00Z"\r\n', 'contact')
    expect(file.errors).toEqual([])
    expect(file.outcomes.map((outcome) => outcome.id)).toEqual(['o"neil@acme.io'])
  })

  it('reports bad rows by line number and skips them, keeping the good ones', () => {
    const text = [
      'email,converted_at',
      'ada@acme.io,2026-10-03T09:00:00Z',
      'not-an-email,',
      'bob@acme.io,yesterday',
      'carol@acme.io',
      ',2026-10-01',
      'ADA@acme.io,',
      '"dan@acme.io,2026-10-01',
      'erin@acme.io,2026-10-02,extra',
      '',
      'finn@acme.io,'
    ].join('\n')
    const file = parseOutcomes(text, 'contact')
    expect(file.outcomes.map((outcome) => [outcome.id, outcome.line])).toEqual([
      ['ada@acme.io', 2],
      ['finn@acme.io', 11]
    ])
    expect(file.errors).toEqual([
      { line: 3, message: '"not-an-email" is not an email' },
      { line: 4, message: 'converted_at "yesterday" is not an ISO 8601 date or date-time' },
      { line: 5, message: 'expected 2 cells (email,converted_at), found 1' },
      { line: 6, message: 'no email' },
      { line: 7, message: 'ada@acme.io is already listed on line 2' },
      { line: 8, message: 'a quoted cell is not closed' },
      { line: 9, message: 'expected 2 cells (email,converted_at), found 3' }
    ])
  })

  it('keeps company keys as written (group ids are case-sensitive)', () => {
    const file = parseOutcomes('company,converted_at\nCo_0001,2026-10-03\nacme.io,\n', 'company')
    expect(file.errors).toEqual([])
    expect(file.outcomes.map((outcome) => outcome.id)).toEqual(['Co_0001', 'acme.io'])
  })

  it('reads a first line that is not a header as data', () => {
    const file = parseOutcomes('ada@acme.io,2026-10-03\n', 'contact')
    expect(file.outcomes).toHaveLength(1)
  })
})
