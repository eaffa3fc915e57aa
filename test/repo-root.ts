import { dirname } from 'node:path'

/** The repository root, from the sources (jest) and from `dist/` (npm start) alike. */
export const REPO_ROOT = dirname(dirname(require.resolve('@pqlkit/core/package.json')))
