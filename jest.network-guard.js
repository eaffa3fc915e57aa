/**
 * Tests may reach loopback only (the HubSpot emulator, fake hosts). Any other connection
 * fails at once with ENETUNREACH, so a test that would depend on HubSpot, Slack or any
 * other host fails loudly here instead of waiting on a network CI does not have.
 */
const net = require('node:net')

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])
const connect = net.Socket.prototype.connect

function target(args) {
  const [first, second] = Array.isArray(args[0]) ? args[0] : args
  if (first && typeof first === 'object') return first.path ? undefined : first.host ?? 'localhost'
  if (typeof first === 'string' && !/^\d+$/.test(first)) return undefined
  return typeof second === 'string' ? second : 'localhost'
}

net.Socket.prototype.connect = function guardedConnect(...args) {
  const host = target(args)
  if (host === undefined || LOOPBACK.has(host)) return connect.apply(this, args)
  const error = Object.assign(new Error(`network access to ${host} is blocked in tests (loopback only)`), { code: 'ENETUNREACH' })
  process.nextTick(() => this.destroy(error))
  return this
}
