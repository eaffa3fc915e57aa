/**
 * The condition language of SPEC §3.2, parsed (never evaluated as code):
 *
 *   expr    := or
 *   or      := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | primary
 *   primary := '(' expr ')' | operand [OP literal | 'contains' literal | 'in' '[' literal (',' literal)* ']']
 *   operand := NAME | 'days_since' '(' NAME ')'
 *
 * Columns in errors are 1-based.
 */

import { parseTimestamp } from '../time'

export type Literal = number | string | boolean
export type CompareOp = '>=' | '>' | '<=' | '<' | '==' | '!='

export type Operand =
  | { kind: 'name'; name: string; column: number }
  | { kind: 'days_since'; name: string; column: number }

export type Condition =
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; operand: Condition }
  | { kind: 'truthy'; operand: Operand }
  | { kind: 'compare'; op: CompareOp; operand: Operand; value: Literal; valueColumn: number }
  | { kind: 'contains'; operand: Operand; value: Literal; valueColumn: number }
  | { kind: 'in'; operand: Operand; values: Literal[]; valueColumn: number }

export class ConditionError extends Error {
  constructor(
    readonly reason: string,
    readonly column: number
  ) {
    super(`${reason} (column ${column})`)
    this.name = 'ConditionError'
  }
}

type Token =
  | { type: 'name'; text: string; column: number }
  | { type: 'number'; value: number; column: number }
  | { type: 'string'; value: string; column: number }
  | { type: 'op'; text: string; column: number }
  | { type: 'end'; column: number }

const NAME = /[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z0-9_$]+)*/y
const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y
const OPERATORS = ['>=', '<=', '==', '!=', '>', '<', '(', ')', '[', ']', ',']

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const ch = text[i]
    if (/\s/.test(ch)) {
      i++
      continue
    }
    const column = i + 1
    if (ch === '"' || ch === "'") {
      let value = ''
      let j = i + 1
      for (; j < text.length && text[j] !== ch; j++) {
        if (text[j] === '\\' && j + 1 < text.length) j++
        value += text[j]
      }
      if (j >= text.length) throw new ConditionError('unterminated string', column)
      tokens.push({ type: 'string', value, column })
      i = j + 1
      continue
    }
    NUMBER.lastIndex = i
    const number = NUMBER.exec(text)
    if (number && (ch !== '-' || /[\d.]/.test(text[i + 1] ?? ''))) {
      tokens.push({ type: 'number', value: Number(number[0]), column })
      i += number[0].length
      continue
    }
    NAME.lastIndex = i
    const name = NAME.exec(text)
    if (name) {
      tokens.push({ type: 'name', text: name[0], column })
      i += name[0].length
      continue
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, i))
    if (op) {
      tokens.push({ type: 'op', text: op, column })
      i += op.length
      continue
    }
    if (ch === '=') throw new ConditionError('unexpected "=": compare with "=="', column)
    throw new ConditionError(`unexpected character "${ch}"`, column)
  }
  tokens.push({ type: 'end', column: text.length + 1 })
  return tokens
}

const KEYWORDS = new Set(['and', 'or', 'not', 'contains', 'in', 'true', 'false', 'days_since'])
const COMPARE_OPS = new Set(['>=', '>', '<=', '<', '==', '!='])

class Parser {
  private position = 0
  constructor(private readonly tokens: Token[]) {}

  parse(): Condition {
    const condition = this.or()
    const next = this.peek()
    if (next.type !== 'end') throw new ConditionError(`unexpected ${describe(next)}`, next.column)
    return condition
  }

  private peek(): Token {
    return this.tokens[this.position]
  }

  private next(): Token {
    return this.tokens[this.position++]
  }

  private isWord(word: string): boolean {
    const token = this.peek()
    return token.type === 'name' && token.text === word
  }

  private isOp(op: string): boolean {
    const token = this.peek()
    return token.type === 'op' && token.text === op
  }

  private expectOp(op: string): void {
    const token = this.next()
    if (token.type !== 'op' || token.text !== op) {
      throw new ConditionError(`expected "${op}" but found ${describe(token)}`, token.column)
    }
  }

  private or(): Condition {
    let left = this.and()
    while (this.isWord('or')) {
      this.next()
      left = { kind: 'or', left, right: this.and() }
    }
    return left
  }

  private and(): Condition {
    let left = this.unary()
    while (this.isWord('and')) {
      this.next()
      left = { kind: 'and', left, right: this.unary() }
    }
    return left
  }

  private unary(): Condition {
    if (this.isWord('not')) {
      this.next()
      return { kind: 'not', operand: this.unary() }
    }
    return this.primary()
  }

  private primary(): Condition {
    if (this.isOp('(')) {
      this.next()
      const inner = this.or()
      this.expectOp(')')
      return inner
    }
    const operand = this.operand()
    const token = this.peek()
    if (token.type === 'op' && COMPARE_OPS.has(token.text)) {
      this.next()
      const valueColumn = this.peek().column
      return { kind: 'compare', op: token.text as CompareOp, operand, value: this.literal(), valueColumn }
    }
    if (this.isWord('contains')) {
      this.next()
      const valueColumn = this.peek().column
      return { kind: 'contains', operand, value: this.literal(), valueColumn }
    }
    if (this.isWord('in')) {
      this.next()
      const valueColumn = this.peek().column
      this.expectOp('[')
      const values = [this.literal()]
      while (this.isOp(',')) {
        this.next()
        values.push(this.literal())
      }
      this.expectOp(']')
      return { kind: 'in', operand, values, valueColumn }
    }
    return { kind: 'truthy', operand }
  }

  private operand(): Operand {
    const token = this.next()
    if (token.type !== 'name' || (KEYWORDS.has(token.text) && token.text !== 'days_since')) {
      throw new ConditionError(`expected a name but found ${describe(token)}`, token.column)
    }
    if (token.text === 'days_since') {
      this.expectOp('(')
      const name = this.next()
      if (name.type !== 'name' || KEYWORDS.has(name.text)) {
        throw new ConditionError(`days_since() takes a signal name, found ${describe(name)}`, name.column)
      }
      this.expectOp(')')
      return { kind: 'days_since', name: name.text, column: name.column }
    }
    return { kind: 'name', name: token.text, column: token.column }
  }

  private literal(): Literal {
    const token = this.next()
    if (token.type === 'number' || token.type === 'string') return token.value
    if (token.type === 'name' && (token.text === 'true' || token.text === 'false')) return token.text === 'true'
    throw new ConditionError(
      `expected a literal (a number, a "string", true or false) but found ${describe(token)}`,
      token.column
    )
  }
}

function describe(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'the end of the condition'
    case 'name':
      return `"${token.text}"`
    case 'op':
      return `"${token.text}"`
    case 'number':
      return `the number ${token.value}`
    case 'string':
      return `the string "${token.value}"`
  }
}

export function parseCondition(text: string): Condition {
  if (text.trim() === '') throw new ConditionError('empty condition', 1)
  return new Parser(tokenize(text)).parse()
}

/** What a name stands for, as far as type checking goes. `any` is a trait or an event property. */
export type ValueType = 'boolean' | 'number' | 'string' | 'datetime' | 'any'

/** Checks names and types; `lookup` returns undefined for an unknown name. */
export function checkCondition(condition: Condition, lookup: (name: string) => ValueType | undefined): void {
  const typeOf = (operand: Operand): ValueType => {
    const type = lookup(operand.name)
    if (type === undefined) throw new ConditionError(`unknown name "${operand.name}"`, operand.column)
    if (operand.kind === 'days_since') {
      if (type !== 'datetime' && type !== 'any') {
        throw new ConditionError(`days_since() needs a datetime signal; "${operand.name}" is a ${type}`, operand.column)
      }
      return 'number'
    }
    return type
  }
  const checkLiteral = (type: ValueType, value: Literal, column: number, what: string): void => {
    if (type === 'any') return
    if (type === 'datetime') {
      throw new ConditionError(`a datetime can't be compared with ${what}; use days_since(NAME)`, column)
    }
    const literalType = typeof value === 'string' && isNumeric(value) ? 'number' : typeof value
    if (type === 'string' && literalType !== 'boolean') return
    if (literalType !== type) {
      throw new ConditionError(`a ${type} can't be compared with ${JSON.stringify(value)}`, column)
    }
  }
  const visit = (node: Condition): void => {
    switch (node.kind) {
      case 'and':
      case 'or':
        visit(node.left)
        visit(node.right)
        return
      case 'not':
        visit(node.operand)
        return
      case 'truthy':
        typeOf(node.operand)
        return
      case 'compare': {
        const type = typeOf(node.operand)
        if (type === 'boolean' && node.op !== '==' && node.op !== '!=') {
          throw new ConditionError(`a true/false value can't be ordered with "${node.op}"`, node.operand.column)
        }
        checkLiteral(type, node.value, node.valueColumn, `"${node.op}"`)
        return
      }
      case 'contains': {
        const type = typeOf(node.operand)
        if (type !== 'string' && type !== 'any') {
          throw new ConditionError(`"contains" needs a text value; "${node.operand.name}" is a ${type}`, node.operand.column)
        }
        return
      }
      case 'in': {
        const type = typeOf(node.operand)
        for (const value of node.values) checkLiteral(type, value, node.valueColumn, '"in"')
        return
      }
    }
  }
  visit(condition)
}

export function isNumeric(value: string): boolean {
  return value.trim() !== '' && Number.isFinite(Number(value))
}

/** A value a condition can see. `undefined` is absent; datetimes are epoch milliseconds wrapped as `{ at }`. */
export type ConditionValue = number | string | boolean | { at: number } | undefined

const DAY_MS = 86_400_000

/**
 * A condition compiled to a function: literals converted once, no tree walked per call. It
 * reads each name's value by a key: the name itself, or what `compiledConditionBy` was given
 * for it (a signal's position in its section).
 */
export type CompiledCondition<K = string> = (resolve: (key: K) => ConditionValue, now: number) => boolean

const compiled = new WeakMap<Condition, CompiledCondition>()

/** The condition as a function, compiled at its first use; a caller that runs it often keeps it. */
export function compiledCondition(condition: Condition): CompiledCondition {
  let run = compiled.get(condition)
  if (!run) {
    run = compile(condition, (name) => name)
    compiled.set(condition, run)
  }
  return run
}

/** The condition as a function that reads each name by `keyOf(name)`; not remembered, so the caller keeps it. */
export function compiledConditionBy<K>(condition: Condition, keyOf: (name: string) => K): CompiledCondition<K> {
  return compile(condition, keyOf)
}

export function evaluateCondition(
  condition: Condition,
  resolve: (name: string) => ConditionValue,
  now: number
): boolean {
  return compiledCondition(condition)(resolve, now)
}

function operandReader<K>(operand: Operand, keyOf: (name: string) => K): (resolve: (key: K) => ConditionValue, now: number) => ConditionValue {
  const key = keyOf(operand.name)
  if (operand.kind === 'name') return (resolve) => resolve(key)
  return (resolve, now) => {
    const at = datetimeOf(resolve(key))
    return at === undefined ? undefined : Math.floor((now - at) / DAY_MS)
  }
}

function compile<K>(condition: Condition, keyOf: (name: string) => K): CompiledCondition<K> {
  switch (condition.kind) {
    case 'and': {
      const left = compile(condition.left, keyOf)
      const right = compile(condition.right, keyOf)
      return (resolve, now) => left(resolve, now) && right(resolve, now)
    }
    case 'or': {
      const left = compile(condition.left, keyOf)
      const right = compile(condition.right, keyOf)
      return (resolve, now) => left(resolve, now) || right(resolve, now)
    }
    case 'not': {
      const operand = compile(condition.operand, keyOf)
      return (resolve, now) => !operand(resolve, now)
    }
    case 'truthy': {
      const read = operandReader(condition.operand, keyOf)
      return (resolve, now) => isTruthy(read(resolve, now))
    }
    case 'compare': {
      const read = operandReader(condition.operand, keyOf)
      const test = comparison(condition.op, condition.value)
      return (resolve, now) => test(read(resolve, now))
    }
    case 'contains': {
      const read = operandReader(condition.operand, keyOf)
      const needle = String(condition.value).toLowerCase()
      return (resolve, now) => {
        const value = read(resolve, now)
        if (value === undefined || typeof value === 'object') return false
        return String(value).toLowerCase().includes(needle)
      }
    }
    case 'in': {
      const read = operandReader(condition.operand, keyOf)
      const tests = condition.values.map((literal) => comparison('==', literal))
      return (resolve, now) => {
        const value = read(resolve, now)
        return tests.some((test) => test(value))
      }
    }
  }
}

function datetimeOf(value: ConditionValue): number | undefined {
  if (typeof value === 'object') return value.at
  if (typeof value === 'string') {
    const at = parseTimestamp(value)
    return Number.isNaN(at) ? undefined : at
  }
  return undefined
}

export function isTruthy(value: ConditionValue): boolean {
  if (value === undefined) return false
  if (typeof value === 'object') return true
  if (typeof value === 'number') return value !== 0
  if (typeof value === 'string') return value !== ''
  return value
}

function toNumber(value: ConditionValue | Literal): number | undefined {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && isNumeric(value)) return Number(value)
  return undefined
}

/** `value OP literal` as a test of the value, the literal converted once (SPEC §3.2: numbers compare as numbers, text without case). */
function comparison(op: CompareOp, literal: Literal): (value: ConditionValue) => boolean {
  const right = toNumber(literal)
  const text = String(literal).toLowerCase()
  return (value) => {
    if (value === undefined || typeof value === 'object') return false
    const left = right === undefined ? undefined : toNumber(value)
    if (left !== undefined && right !== undefined) {
      switch (op) {
        case '>=':
          return left >= right
        case '>':
          return left > right
        case '<=':
          return left <= right
        case '<':
          return left < right
        case '==':
          return left === right
        case '!=':
          return left !== right
      }
    }
    if (op !== '==' && op !== '!=') return false
    const equal = String(value).toLowerCase() === text
    return op === '==' ? equal : !equal
  }
}
