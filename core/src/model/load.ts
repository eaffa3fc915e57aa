import { isNode, LineCounter, parseDocument } from 'yaml'
import { compileModel, Model, ModelError, ModelIssue } from './compile'
import { ModelDocument } from './schema'

/**
 * Loads a model from YAML or JSON text (JSON is YAML), or from an already-parsed object (a
 * host's settings field). Every problem is reported at once, each with its path and, for
 * text, its line and column.
 */
export function loadModel(text: string, source = 'model'): Model {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true })
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
  try {
    return parseModel(document.toJS(), source)
  } catch (error) {
    if (error instanceof ModelError) throw new ModelError(error.issues.map(locate), source)
    throw error
  }
}

export function parseModel(input: unknown, source = 'model'): Model {
  const result = ModelDocument.safeParse(input)
  if (!result.success) {
    throw new ModelError(
      result.error.issues.map((issue) => ({ path: issue.path as (string | number)[], message: issue.message })),
      source
    )
  }
  try {
    return compileModel(result.data)
  } catch (error) {
    if (error instanceof ModelError) throw new ModelError(error.issues, source)
    throw error
  }
}
