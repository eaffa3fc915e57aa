import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory, `pg_ctl start`
 * on a free loopback port, stopped and removed after. The binaries come from PATH or Debian's
 * /usr/lib/postgresql/<version>/bin (`apt-get install postgresql`, as `.ci/run` does). Postgres
 * refuses to run as root: as root, the cluster belongs to the `postgres` user and every
 * command runs as it (`runuser`).
 */
export type PostgresCluster = { url: string; stop(): void }

function binDir(): string {
  const inPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim()
  if (inPath) return inPath.replace(/\/pg_ctl$/, '')
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const version of versions) if (existsSync(join(root, version, 'bin', 'pg_ctl'))) return join(root, version, 'bin')
  throw new Error('PostgreSQL is not installed: apt-get install -y postgresql (or put pg_ctl in PATH)')
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** `durable`: fsync on, as a production server runs (the bench); tests run without it, for speed. */
export async function startPostgres({ durable = false }: { durable?: boolean } = {}): Promise<PostgresCluster> {
  const bin = binDir()
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'pqlkit-pg-'))
  const data = join(dir, 'data')
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]] : [join(bin, command), args]
    execFileSync(file, argv, { stdio: 'pipe' })
  }
  if (asRoot) {
    chmodSync(dir, 0o777)
    execFileSync('chown', ['postgres', dir])
  }
  const port = await freePort()
  run('initdb', ['-D', data, '-U', 'pqlkit', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-c listen_addresses=127.0.0.1 -c port=${port} -k ${dir}${durable ? '' : ' -c fsync=off'}`, 'start'])
  let stopped = false
  return {
    url: `postgres://pqlkit@127.0.0.1:${port}/postgres`,
    stop() {
      if (stopped) return
      stopped = true
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
