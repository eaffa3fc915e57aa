import { checkCondition, ConditionError, evaluateCondition, parseCondition, ValueType } from './condition'
import { loadModel } from './load'
import { ModelError } from './compile'

function parseError(text: string): { reason: string; column: number } {
  try {
    parseCondition(text)
  } catch (error) {
    if (error instanceof ConditionError) return { reason: error.reason, column: error.column }
    throw error
  }
  throw new Error(`"${text}" parsed`)
}

const types: Record<string, ValueType> = { teammates: 'number', plan: 'string', activated: 'boolean', last_seen: 'datetime', anything: 'any' }
const lookup = (name: string) => types[name]

describe('the condition language (SPEC §3.2)', () => {
  it.each([
    ['teammates >= ', 'expected a literal (a number, a "string", true or false) but found the end of the condition', 14],
    ['teammates = 2', 'unexpected "=": compare with "=="', 11],
    ['teammates >= 2 and', 'expected a name but found the end of the condition', 19],
    ['(teammates >= 2', 'expected ")" but found the end of the condition', 16],
    ['plan in ["pro", "team"', 'expected "]" but found the end of the condition', 23],
    ['plan in []', 'expected a literal (a number, a "string", true or false) but found "]"', 10],
    ['plan == "pro', 'unterminated string', 9],
    ['teammates >= 2 plan', 'unexpected "plan"', 16],
    ['days_since(last_seen', 'expected ")" but found the end of the condition', 21],
    ['teammates # 2', 'unexpected character "#"', 11],
    ['not', 'expected a name but found the end of the condition', 4]
  ])('"%s" fails with "%s" at column %d', (text, reason, column) => {
    expect(parseError(text)).toEqual({ reason, column })
  })

  it('binds not tighter than and, and and tighter than or', () => {
    const condition = parseCondition('not activated or teammates >= 2 and plan == "pro"')
    const values = (v: Record<string, unknown>) => (name: string) => v[name] as never
    const at = Date.parse('2026-03-01T00:00:00Z')
    expect(evaluateCondition(condition, values({ activated: true, teammates: 3, plan: 'pro' }), at)).toBe(true)
    expect(evaluateCondition(condition, values({ activated: true, teammates: 3, plan: 'free' }), at)).toBe(false)
    expect(evaluateCondition(condition, values({ activated: false, teammates: 0, plan: 'free' }), at)).toBe(true)
    expect(evaluateCondition(parseCondition('(not activated or teammates >= 2) and plan == "pro"'), values({ activated: false, teammates: 0, plan: 'free' }), at)).toBe(false)
  })

  it('checks names and types, naming the column of the culprit', () => {
    const check = (text: string) => {
      try {
        checkCondition(parseCondition(text), lookup)
        return 'ok'
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(check('teamates >= 2')).toBe('unknown name "teamates" (column 1)')
    expect(check('activated and teammates == "two"')).toBe('a number can\'t be compared with "two" (column 28)')
    expect(check('days_since(plan) > 3')).toBe('days_since() needs a datetime signal; "plan" is a string (column 12)')
    expect(check('days_since(last_seen) > 3 and anything == "x" and plan in ["a", "b"]')).toBe('ok')
  })
})

describe('condition errors in a model file', () => {
  const model = (when: string) => `version: 1
name: conditions
signals:
  teammates: { count: "Teammate Invited" }
scores:
  - property: pql_score
    rules:
      - { label: Solo, per: teammates, points: 1 }
      - { label: Team, when: ${when}, points: 50 }
`
  const message = (text: string) => {
    try {
      loadModel(text, 'model.yaml')
    } catch (error) {
      if (error instanceof ModelError) return error.message
      throw error
    }
    return 'loaded'
  }

  it('names the file position, the rule and the column, and suggests the signal meant', () => {
    expect(message(model('teamates >= 2'))).toBe(
      'invalid model model.yaml:\n  model.yaml:9:30: scores[0].rules[1].when: rule "Team": unknown name "teamates" at column 1 of "teamates >= 2" (did you mean "teammates"?)'
    )
  })

  it('reports a syntax error with its column inside the condition', () => {
    expect(message(model('"teammates >= 2 and"'))).toContain(
      'rule "Team": expected a name but found the end of the condition at column 19 of "teammates >= 2 and"'
    )
  })
})
