import { DEFAULT_TOKEN, EmulatorOptions, startEmulator } from '.'

const USAGE = `usage: npm run emulator -- [--port 4010] [--token T] [--portal-id N] [--max 100 --interval-ms 10000]
       [--faults '{"seed":1,"rate429":0.1,"rate5xx":0.05,"latencyMs":20,"dropRate":0.01,"partialRate":0.1}']`

function parse(argv: string[]): EmulatorOptions {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    if (!/^--(port|token|portal-id|max|interval-ms|faults)$/.test(argv[i]) || argv[i + 1] === undefined) throw new Error(USAGE)
    flags.set(argv[i].slice(2), argv[i + 1])
  }
  const number = (name: string, fallback?: number): number | undefined => {
    const raw = flags.get(name)
    if (raw === undefined) return fallback
    if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a whole number, got ${raw}\n${USAGE}`)
    return Number(raw)
  }
  const options: EmulatorOptions = { port: number('port', 0), portalId: number('portal-id'), accessToken: flags.get('token') ?? process.env.EMULATOR_TOKEN }
  if (flags.has('max') || flags.has('interval-ms')) options.rateLimit = { max: number('max', 100)!, intervalMs: number('interval-ms', 10_000)! }
  if (flags.has('faults')) options.faults = { seed: 1, ...JSON.parse(flags.get('faults')!) }
  return options
}

async function main(): Promise<void> {
  const emulator = await startEmulator(parse(process.argv.slice(2)))
  // The default token is a fixed, public value; a token you chose is not echoed.
  const token = emulator.accessToken === DEFAULT_TOKEN ? DEFAULT_TOKEN : '(the one given with --token or EMULATOR_TOKEN)'
  process.stdout.write(
    `HubSpot emulator listening on ${emulator.url}\n  access token: ${token}\n` +
      `  point pqlkit at it: HUBSPOT_BASE_URL=${emulator.url} HUBSPOT_ACCESS_TOKEN=<token>\n` +
      `  GET ${emulator.url}/__emulator/dump (JSON dump), POST ${emulator.url}/__emulator/reset (forget everything)\n`
  )
  const stop = () => void emulator.stop().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
