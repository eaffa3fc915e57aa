import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { brotliDecompressSync } from 'node:zlib'
import Chromium from '@sparticuz/chromium'

/**
 * A headless Chromium from the npm registry: `@sparticuz/chromium` ships a chrome-headless-shell
 * build inside its tarball (brotli-compressed, x64 Linux), so `npm ci` is all a machine needs.
 * `executablePath()` inflates it, with its fonts and SwiftShader, into the temp directory once.
 * The NSS, NSPR and expat libraries it links against come in the same package (for Amazon
 * Linux, where they are missing); a bare Debian lacks them too, so they are inflated beside it
 * and put first on the browser's library path.
 */
export async function bundledChromium(): Promise<{ executablePath: string; env: NodeJS.ProcessEnv }> {
  const executablePath = await Chromium.executablePath()
  const libraries = join(tmpdir(), 'al2023', 'lib')
  if (!existsSync(join(libraries, 'libnss3.so'))) {
    const archive = join(dirname(require.resolve('@sparticuz/chromium')), '..', '..', 'bin', 'al2023.tar.br')
    mkdirSync(join(tmpdir(), 'al2023'), { recursive: true })
    execFileSync('tar', ['-x', '-C', join(tmpdir(), 'al2023')], { input: brotliDecompressSync(readFileSync(archive)) })
  }
  return {
    executablePath,
    env: { ...process.env, FONTCONFIG_PATH: join(tmpdir(), 'fonts'), LD_LIBRARY_PATH: libraries }
  }
}
