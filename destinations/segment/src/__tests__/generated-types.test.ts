import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The generator runs as its own process: json-schema-to-typescript loads prettier with a
// dynamic import, which jest's module sandbox does not allow.
const SCRIPT = join(__dirname, '..', '..', 'dist', 'scripts', 'generate-types.js')
const SRC = join(__dirname, '..')
const check = (src: string) => spawnSync(process.execPath, [SCRIPT, '--check', '--src', src], { encoding: 'utf8' })

describe('generated types', () => {
  it('generated-types.ts files match the fields (else: npm run types -w @pqlkit/segment-destination)', () => {
    const result = check(SRC)
    expect(result.stdout).toBe('')
    expect(result.status).toBe(0)
  })

  it('the check notices a stale file', () => {
    const copy = mkdtempSync(join(tmpdir(), 'pqlkit-types-'))
    try {
      cpSync(SRC, copy, { recursive: true })
      writeFileSync(join(copy, 'trackEvent', 'generated-types.ts'), '// Generated file. DO NOT MODIFY IT BY HAND.\nexport interface Payload {}\n')
      const result = check(copy)
      expect(result.status).toBe(1)
      expect(result.stdout).toBe(`stale: ${join(copy, 'trackEvent', 'generated-types.ts')}\n`)
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })
})
