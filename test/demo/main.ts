import { runDemo } from './demo'

runDemo(process.stdout, process.stderr).then(
  (result) => {
    process.exitCode = result.mismatches.length === 0 ? 0 : 1
  },
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.message}\n`)
    process.exitCode = 1
  }
)
