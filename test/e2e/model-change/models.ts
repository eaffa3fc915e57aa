import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The example model's changes a RevOps quarter brings, as text edits of the model file. */
export const renamedAndMovedTiers = (model: string) =>
  model.replace(/tiers: \{ Cold: 0, Warm: 30, Hot: 60, Sales-Ready: 80 \}/g, 'tiers: { Cold: 0, Warm: 30, Hot: 50, SQL-Ready: 90 }').replace('enters: Sales-Ready', 'enters: SQL-Ready')

export const renamedTier = (model: string) => model.replace(/Sales-Ready/g, 'SQL-Ready')

export const addedSignal = (model: string) =>
  model.replace('  plan:                   { trait: plan }\n\nscores:', '  plan:                   { trait: plan }\n  comments_added:         { count: "Comment Added" }\n\nscores:')

export const changedPoints = (model: string) =>
  model.replace('{ label: Activated,                  when: has_activated,               points: 25 }', '{ label: Activated,                  when: has_activated,               points: 35 }')

/** Runs `use` with the model text in a file of its own, removed afterwards. */
export async function withScratchModel<T>(model: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-model-'))
  try {
    const file = join(dir, 'model.yaml')
    writeFileSync(file, model)
    return await use(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
