#!/usr/bin/env node
'use strict'
const { main } = require('../dist/cli/main.js')

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
  (code) => {
    process.exitCode = code
  }
)
