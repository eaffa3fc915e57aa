import { checkCondition, Condition, ConditionError, parseCondition, ValueType } from './condition'
import { durationMs } from './duration'
import type { DecayDocument, HandoffDocument, MatcherDocument, ModelDocument, ScoreDocument, SignalDocument } from './schema'
import { FREE_MAIL_DOMAINS } from './free-mail'
import { fingerprint } from '../hash'

/** A model checked and compiled for the engine: conditions parsed, names resolved, durations in ms. */
export type Model = {
  name: string
  /** Of the whole model document: a state records which model evaluated it. */
  fingerprint: string
  contact: Section
  company?: Section
  companyFromEmail: boolean
  freeMailDomains: ReadonlySet<string>
  handoffs: Handoff[]
}

export type SubjectKind = 'contact' | 'company'

export type Section = {
  subject: SubjectKind
  signals: Signal[]
  scores: Score[]
}

export type Matcher = { anyEvent: boolean; events: ReadonlySet<string>; where?: Condition }

export type SignalKind =
  | 'flag'
  | 'count'
  | 'sum'
  | 'distinct'
  | 'active_days'
  | 'first_seen'
  | 'last_seen'
  | 'latest'
  | 'trait'
  | 'distinct_users'

export type TraitType = 'string' | 'number' | 'bool' | 'datetime'

export type Signal = {
  name: string
  kind: SignalKind
  matcher?: Matcher
  of?: string
  windowDays?: number
  trait?: string
  traitType?: TraitType
  /**
   * Counts only the events delivered for it (`ProductEvent.mapping`), never by its matcher: a
   * host that delivers each event once per mapping (one subscription each) says so.
   */
  deliveredPerMapping?: boolean
  /** Changes when the definition changes, so state aggregated under an old definition is dropped. */
  fingerprint: string
  valueType: ValueType
  /** The definition as written, for people: `count: "Project Created", window: 7d`. */
  source: string
}

export type Rule = {
  label: string
  when?: Condition
  whenText?: string
  per?: string
  every: number
  cap?: number
  points: number
  once: boolean
}

export type Decay =
  | { kind: 'linear'; afterMs: number; everyMs: number; points: number }
  | { kind: 'half_life'; halfLifeMs: number }
  | { kind: 'steps'; steps: { afterMs: number; keep: number }[] }

export type Tier = { name: string; threshold: number }

export type Score = {
  property: string
  activity?: string
  rules?: Rule[]
  composite?: { property: string; weight: number }[]
  decay?: Decay
  min: number
  max?: number
  /** Ascending by threshold. */
  tiers: Tier[]
}

export type Handoff = {
  /** Stable key for marks in state. */
  key: string
  /** e.g. "enters Sales-Ready", "rises_by 40 within 24h" */
  label: string
  score: string
  trigger: { kind: 'enters'; tier: string; threshold: number } | { kind: 'rises_by'; by: number; withinMs: number }
  unless?: Condition
  unlessText?: string
  /** Without a webhook of its own, the host's default Slack webhook setting is used. */
  slack?: { webhook?: string }
  task?: { title: string; body?: string; dueMs: number; priority?: 'LOW' | 'MEDIUM' | 'HIGH' }
}

/** A problem in a model: where (path, and line/column in the file when known) and what. */
export type ModelIssue = {
  path: (string | number)[]
  message: string
  line?: number
  column?: number
  /** The name the issue is about when it is a name nothing defines (a mapping, not yet known, may). */
  undefinedName?: string
}

export class ModelError extends Error {
  constructor(
    readonly issues: ModelIssue[],
    readonly source = 'model'
  ) {
    super(`invalid model ${source}:\n${issues.map((issue) => `  ${formatIssue(issue, source)}`).join('\n')}`)
    this.name = 'ModelError'
  }
}

export function formatIssue(issue: ModelIssue, source: string): string {
  const where = issue.line === undefined ? source : `${source}:${issue.line}:${issue.column ?? 1}`
  const path = formatPath(issue.path)
  return `${where}: ${path ? `${path}: ` : ''}${issue.message}`
}

export function formatPath(path: (string | number)[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : String(part)),
    ''
  )
}

/** HubSpot properties pqlkit reads or owns: a signal or score may not take these names. */
export const HANDOFF_PROPERTIES = ['email', 'firstname', 'lastname', 'jobtitle', 'lifecyclestage', 'hubspot_owner_id', 'company'] as const
export const INTERNAL_PROPERTIES = ['pqlkit_state', 'pqlkit_user_id', 'pqlkit_company_key'] as const
const RESERVED = new Set<string>([
  ...HANDOFF_PROPERTIES,
  ...INTERNAL_PROPERTIES,
  'name',
  'domain',
  'website',
  'createdate',
  'lastmodifieddate'
])

const SIGNAL_VALUE_TYPES: Record<SignalKind, ValueType> = {
  flag: 'boolean',
  count: 'number',
  sum: 'number',
  distinct: 'number',
  active_days: 'number',
  distinct_users: 'number',
  first_seen: 'datetime',
  last_seen: 'datetime',
  latest: 'any',
  trait: 'any'
}

const TRAIT_VALUE_TYPES: Record<TraitType, ValueType> = {
  string: 'string',
  number: 'number',
  bool: 'boolean',
  datetime: 'datetime'
}

export type CompileOptions = {
  /**
   * The signals mappings define, with their fingerprints (`mappingFingerprint`): the same in
   * every host, though a destination may never see a mapping's event or value path.
   */
  mapped?: ReadonlyMap<string, string>
  /** The mapped signals count only the events a host delivers for them (see `Signal.deliveredPerMapping`). */
  deliveredPerMapping?: boolean
}

export function compileModel(document: ModelDocument, options: CompileOptions = {}): Model {
  const issues: ModelIssue[] = []
  const contact = compileSection('contact', document.signals, document.scores, [], issues, options)
  const company = document.company
    ? compileSection('company', document.company.signals, document.company.scores, ['company'], issues, options)
    : undefined
  const handoffs = document.handoff.map((handoff, index) => compileHandoff(handoff, ['handoff', index], contact, issues))
  if (issues.length > 0) throw new ModelError(issues)
  return {
    name: document.name,
    fingerprint: fingerprint(JSON.stringify(document)),
    contact,
    company,
    companyFromEmail: document.company?.company_from_email ?? false,
    freeMailDomains: new Set([...FREE_MAIL_DOMAINS, ...(document.free_mail_domains ?? []).map((d) => d.toLowerCase())]),
    handoffs
  }
}

function compileSection(
  subject: SubjectKind,
  signalDocuments: Record<string, SignalDocument>,
  scoreDocuments: ScoreDocument[],
  base: (string | number)[],
  issues: ModelIssue[],
  options: CompileOptions
): Section {
  const taken = new Map<string, string>()
  const claim = (name: string, owner: string, path: (string | number)[]) => {
    if (RESERVED.has(name) || name.startsWith('hs_')) {
      issues.push({ path, message: `"${name}" is a HubSpot or pqlkit property; choose another name` })
    } else if (taken.has(name)) {
      issues.push({ path, message: `"${name}" is already used by ${taken.get(name)}` })
    } else {
      taken.set(name, owner)
    }
  }

  const signals = Object.entries(signalDocuments).map(([name, document]) => {
    const path = [...base, 'signals', name]
    claim(name, `signal ${name}`, path)
    const signal = compileSignal(name, document, path, issues)
    const mapped = options.mapped?.get(name)
    if (mapped !== undefined) {
      signal.fingerprint = mapped
      if (options.deliveredPerMapping) signal.deliveredPerMapping = true
    }
    return signal
  })
  const signalTypes = new Map(signals.map((signal) => [signal.name, signal.valueType]))

  const scores: Score[] = []
  scoreDocuments.forEach((document, index) => {
    const path = [...base, 'scores', index]
    for (const suffix of ['', '_tier', '_reasons', '_updated_at']) {
      claim(document.property + suffix, `score ${document.property}`, [...path, 'property'])
    }
    scores.push(compileScore(document, path, signalTypes, scores, issues))
  })
  return { subject, signals, scores }
}

function compileMatcher(document: MatcherDocument, path: (string | number)[], issues: ModelIssue[]): Matcher {
  const names = typeof document === 'string' || Array.isArray(document) ? document : document.event
  const list = typeof names === 'string' ? [names] : names
  const where = typeof document === 'object' && !Array.isArray(document) ? document.where : undefined
  return {
    anyEvent: list.includes('*'),
    events: new Set(list),
    where: where === undefined ? undefined : compileCondition(where, [...path, 'where'], () => 'any', issues)
  }
}

function compileSignal(name: string, document: SignalDocument, path: (string | number)[], issues: ModelIssue[]): Signal {
  const kind = (Object.keys(SIGNAL_VALUE_TYPES) as SignalKind[]).find((key) => key in document)!
  // Every field named (unset ones `undefined`): one shape for every signal keeps the engine's reads of them fast.
  const signal: Signal = {
    name,
    kind,
    matcher: undefined,
    of: undefined,
    windowDays: undefined,
    trait: undefined,
    traitType: undefined,
    deliveredPerMapping: undefined,
    fingerprint: fingerprint(JSON.stringify(document)),
    valueType: SIGNAL_VALUE_TYPES[kind],
    source: Object.entries(document)
      .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
      .join(', ')
  }
  if ('trait' in document) {
    signal.trait = document.trait
    if (document.type) {
      signal.traitType = document.type
      signal.valueType = TRAIT_VALUE_TYPES[document.type]
    }
    return signal
  }
  const matcherDocument = (document as Record<string, unknown>)[kind] as MatcherDocument
  signal.matcher = compileMatcher(matcherDocument, [...path, kind], issues)
  if ('of' in document) signal.of = document.of
  if ('latest' in document && document.type) {
    signal.traitType = document.type
    signal.valueType = TRAIT_VALUE_TYPES[document.type]
  }
  if ('window' in document && document.window !== undefined) signal.windowDays = Number.parseInt(document.window, 10)
  return signal
}

function compileCondition(
  text: string,
  path: (string | number)[],
  lookup: (name: string) => ValueType | undefined,
  issues: ModelIssue[],
  context: { who?: string; names?: Iterable<string> } = {}
): Condition | undefined {
  try {
    const condition = parseCondition(text)
    checkCondition(condition, lookup)
    return condition
  } catch (error) {
    if (!(error instanceof ConditionError)) throw error
    const unknown = /^unknown name "(.*)"$/.exec(error.reason)?.[1]
    const guess = unknown === undefined ? undefined : closest(unknown, context.names ?? [])
    const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`
    const who = context.who === undefined ? '' : `${context.who}: `
    issues.push({
      path,
      message: `${who}${error.reason} at column ${error.column} of "${text}"${hint}`,
      ...(unknown === undefined ? {} : { undefinedName: unknown })
    })
    return undefined
  }
}

/** The known name nearest to a misspelt one (at most 2 edits away), for "did you mean". */
function closest(name: string, names: Iterable<string>): string | undefined {
  let best: { name: string; distance: number } | undefined
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name: candidate, distance }
  }
  return best?.name
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}

function compileDecay(document: DecayDocument): Decay {
  if ('half_life' in document) return { kind: 'half_life', halfLifeMs: durationMs(document.half_life) }
  if ('steps' in document) {
    return {
      kind: 'steps',
      steps: document.steps
        .map((step) => ({ afterMs: durationMs(step.after), keep: step.keep }))
        .sort((a, b) => a.afterMs - b.afterMs)
    }
  }
  return {
    kind: 'linear',
    afterMs: durationMs(document.after),
    everyMs: Math.max(durationMs(document.every), 1),
    points: document.points
  }
}

function compileScore(
  document: ScoreDocument,
  path: (string | number)[],
  signalTypes: Map<string, ValueType>,
  earlier: Score[],
  issues: ModelIssue[]
): Score {
  // Every field named, in the order they are set below: one shape for every score.
  const score: Score = {
    property: document.property,
    min: document.min ?? 0,
    max: document.max,
    tiers: Object.entries(document.tiers ?? {})
      .map(([name, threshold]) => ({ name, threshold }))
      .sort((a, b) => a.threshold - b.threshold),
    activity: undefined,
    decay: undefined,
    rules: undefined,
    composite: undefined
  }
  if (document.activity !== undefined) {
    const type = signalTypes.get(document.activity)
    if (type !== 'datetime') {
      issues.push({
        path: [...path, 'activity'],
        message:
          type === undefined
            ? `unknown signal "${document.activity}"`
            : `"${document.activity}" is not a datetime signal (use first_seen, last_seen or a datetime trait)`,
        ...(type === undefined ? { undefinedName: document.activity } : {})
      })
    }
    score.activity = document.activity
  }
  if (document.decay) score.decay = compileDecay(document.decay)
  if (document.rules) {
    score.rules = document.rules.map((rule, index) => {
      const rulePath = [...path, 'rules', index]
      const when =
        rule.when === undefined
          ? undefined
          : compileCondition(rule.when, [...rulePath, 'when'], (name) => signalTypes.get(name), issues, {
              who: rule.label === undefined ? `rule ${index + 1}` : `rule "${rule.label}"`,
              names: signalTypes.keys()
            })
      if (rule.per !== undefined) {
        const type = signalTypes.get(rule.per)
        if (type !== 'number' && type !== 'any') {
          issues.push({
            path: [...rulePath, 'per'],
            message: type === undefined ? `unknown signal "${rule.per}"` : `"${rule.per}" is a ${type}, \`per\` needs a number`,
            ...(type === undefined ? { undefinedName: rule.per } : {})
          })
        }
      }
      return {
        label: rule.label ?? rule.when ?? `per ${rule.per}`,
        when,
        whenText: rule.when,
        per: rule.per,
        every: rule.every ?? 1,
        cap: rule.cap,
        points: rule.points,
        once: rule.once ?? false
      }
    })
  }
  if (document.composite) {
    score.composite = Object.entries(document.composite).map(([property, weight]) => {
      if (!earlier.some((other) => other.property === property)) {
        issues.push({
          path: [...path, 'composite', property],
          message: `"${property}" is not a score listed before this one`
        })
      }
      return { property, weight }
    })
  }
  return score
}

function compileHandoff(
  document: HandoffDocument,
  path: (string | number)[],
  section: Section,
  issues: ModelIssue[]
): Handoff {
  const on = document.on
  const scoreProperty = on.score ?? section.scores.find((score) => score.tiers.length > 0)?.property
  const score = section.scores.find((candidate) => candidate.property === scoreProperty)
  if (!score) {
    issues.push({
      path: [...path, 'on', 'score'],
      message: on.score ? `unknown score "${on.score}"` : 'no score with tiers to watch; name one with `score:`'
    })
  }
  let trigger: Handoff['trigger']
  let label: string
  if ('enters' in on) {
    const tier = score?.tiers.find((candidate) => candidate.name === on.enters)
    if (score && !tier) {
      issues.push({
        path: [...path, 'on', 'enters'],
        message: `"${on.enters}" is not a tier of ${score.property} (tiers: ${score.tiers.map((t) => t.name).join(', ') || 'none'})`
      })
    }
    trigger = { kind: 'enters', tier: on.enters, threshold: tier?.threshold ?? 0 }
    label = `enters ${on.enters}`
  } else {
    trigger = { kind: 'rises_by', by: on.rises_by, withinMs: durationMs(on.within) }
    label = `rises_by ${on.rises_by} within ${on.within}`
  }
  const names = new Map<string, ValueType>(section.signals.map((signal) => [signal.name, signal.valueType]))
  for (const other of section.scores) {
    names.set(other.property, 'number')
    names.set(`${other.property}_tier`, 'string')
  }
  for (const property of HANDOFF_PROPERTIES) names.set(property, 'string')
  const unless =
    document.unless === undefined
      ? undefined
      : compileCondition(document.unless, [...path, 'unless'], (name) => names.get(name), issues, { names: names.keys() })
  return {
    key: fingerprint(`${path.join('.')}:${label}:${scoreProperty}`),
    label,
    score: scoreProperty ?? '',
    trigger,
    unless,
    unlessText: document.unless,
    slack: document.slack,
    task: document.task && {
      title: document.task.title,
      body: document.task.body,
      dueMs: durationMs(document.task.due),
      priority: document.task.priority
    }
  }
}
