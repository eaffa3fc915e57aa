import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ModelError } from './compile'
import { loadModel, parseModel } from './load'

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples')

function issues(text: string, source = 'model.yaml'): string[] {
  try {
    loadModel(text, source)
  } catch (error) {
    if (error instanceof ModelError) return error.message.split('\n').slice(1).map((line) => line.trim())
    throw error
  }
  return []
}

describe('loading a model (YAML or JSON)', () => {
  it.each(readdirSync(EXAMPLES).filter((name) => name.endsWith('.yaml')))('loads examples/%s, and its JSON form gives the same model', (name) => {
    const text = readFileSync(join(EXAMPLES, name), 'utf8')
    const fromYaml = loadModel(text, name)
    expect(fromYaml.contact.scores.length).toBeGreaterThan(0)
    expect(loadModel(JSON.stringify(parse(text)), name)).toEqual(fromYaml)
    expect(parseModel(parse(text), name)).toEqual(fromYaml)
  })

  it('reports every problem of the document at once, each with its line, column and path', () => {
    expect(
      issues(`version: 1
name: broken
signals:
  seats: { trait: seats, type: integer }
  projects: { count: "Project Created", window: 7 }
scores: []
`)
    ).toEqual([
      'model.yaml:4:32: signals.seats.type: Invalid option: expected one of "string"|"number"|"bool"|"datetime"',
      expect.stringMatching(/^model\.yaml:5:\d+: signals\.projects\.window: /)
    ])
  })

  it('then every problem of meaning at once: unknown signals, wrong types', () => {
    expect(
      issues(`version: 1
name: broken
signals:
  projects: { count: "Project Created" }
  plan: { trait: plan }
scores:
  - property: pql_score
    activity: plan
    rules:
      - { label: Projects, per: project, points: 10 }
      - { label: Team, when: projects >= "two", points: 10 }
`)
    ).toEqual([
      expect.stringMatching(/^model\.yaml:8:\d+: scores\[0\]\.activity: "plan" is not a datetime signal/),
      expect.stringMatching(/^model\.yaml:10:\d+: scores\[0\]\.rules\[0\]\.per: unknown signal "project"$/),
      expect.stringMatching(/^model\.yaml:11:\d+: scores\[0\]\.rules\[1\]\.when: rule "Team": a number can't be compared with "two"/)
    ])
  })

  it('gives a YAML syntax error its position', () => {
    expect(issues('version: 1\nname: x\nsignals:\n  a: { count: x }\n  a: { count: y }\n')).toEqual(['model.yaml:5:3: Map keys must be unique'])
    expect(issues('version: 1\nname: [unclosed\n')[0]).toMatch(/^model\.yaml:\d+:\d+: /)
  })

  it('names positions in JSON text the same way', () => {
    expect(issues('{"version": 1, "name": "j", "signals": {"a": {"cont": "x"}}, "scores": []}', 'model.json')).toEqual([
      'model.json:1:46: signals.a: expected a signal: one of flag, count, sum, distinct, active_days, first_seen, last_seen, latest, trait'
    ])
  })

  it('an already-parsed object (a host setting) reports paths without positions', () => {
    expect(() => parseModel({ version: 2, name: 'x', signals: {}, scores: [] }, 'settings.model')).toThrow(/settings\.model: version: /)
  })
})
