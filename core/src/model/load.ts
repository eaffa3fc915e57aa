import { Document, isNode, LineCounter, parseDocument } from 'yaml'
import { CompileOptions, compileModel, Model, ModelError, ModelIssue } from './compile'
import { ExportReader, Mapping, mappingFingerprint, parseMappings, withMappings } from './mappings'
import { ModelDocument } from './schema'

/** YAML or JSON text (JSON is YAML) parsed, with a locator that adds line and column to an issue's path. */
function parseLocated(text: string, source: string): { value: unknown; locate: (issue: ModelIssue) => ModelIssue } {
  const lineCounter = new LineCounter()
  const document: Document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true })
  if (document.errors.length > 0) {
    throw new ModelError(
      document.errors.map((error) => ({
        path: [],
        message: error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
        line: error.linePos?.[0].line,
        column: error.linePos?.[0].col
      })),
      source
    )
  }
  const locate = (issue: ModelIssue): ModelIssue => {
    for (let depth = issue.path.length; depth >= 0; depth--) {
      const node = document.getIn(issue.path.slice(0, depth), true)
      if (isNode(node) && node.range) {
        const position = lineCounter.linePos(node.range[0])
        return { ...issue, line: position.line, column: position.col }
      }
    }
    return issue
  }
  return { value: document.toJS(), locate }
}

/** Runs `parse`, placing the ModelErrors it throws for `source` at their lines and columns. */
function located<T>(locate: (issue: ModelIssue) => ModelIssue, source: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    if (error instanceof ModelError && error.source === source) throw new ModelError(error.issues.map(locate), source)
    throw error
  }
}

/**
 * Loads a model from YAML or JSON text, or from an already-parsed object (a host's settings
 * field), with the signals of `mappings` (docs/mappings.md) added. Every problem is reported
 * at once, each with its path and, for text, its line and column.
 */
export function loadModel(text: string, source = 'model', mappings: Mapping[] = [], options: Pick<CompileOptions, 'deliveredPerMapping'> = {}): Model {
  const { value, locate } = parseLocated(text, source)
  const mapped = new Map(mappings.map((mapping) => [mapping.property, mappingFingerprint(mapping)]))
  return located(locate, source, () => parseModel(withMappings(value, mappings), source, { ...options, mapped }))
}

/** Loads mappings (a JSON or YAML list, or with `fromExport` a host's export) with located errors. */
export function loadMappings(text: string, source = 'mappings', fromExport?: ExportReader): Mapping[] {
  const { value, locate } = parseLocated(text, source)
  return located(locate, source, () => parseMappings(value, source, fromExport))
}

export function parseModel(input: unknown, source = 'model', options: CompileOptions = {}): Model {
  const result = ModelDocument.safeParse(input)
  if (!result.success) {
    throw new ModelError(
      result.error.issues.map((issue) => ({ path: issue.path as (string | number)[], message: issue.message })),
      source
    )
  }
  try {
    return compileModel(result.data, options)
  } catch (error) {
    if (error instanceof ModelError) throw new ModelError(error.issues, source)
    throw error
  }
}
