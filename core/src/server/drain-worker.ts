import { parentPort, workerData } from 'node:worker_threads'
import { compileModelSource } from '../cli/io'
import { httpsPostJson } from '../handoff/https-post'
import { DefaultHandoffSender } from '../handoff/sender'
import { officialHubSpotApi } from '../hubspot/client'
import { Transport } from '../hubspot/transport'
import { openDatabase } from './database'
import { drainHere } from './drain-loop'
import type { DrainThreadSettings, FromDrain, ToDrain } from './drain-thread'
import { JsonLog } from './log'

/** The drain thread's entry (started by `DrainThread`): the drain on a connection of its own until told to stop. */
const settings = workerData as DrainThreadSettings
const port = parentPort
if (!port) throw new Error('drain-worker runs as a worker thread of pqlkit serve')
const post = (message: FromDrain) => port.postMessage(message)

const db = openDatabase(settings.database)
const api = officialHubSpotApi(settings.hubspot, new Transport())
const drain = drainHere({
  ...settings,
  db,
  model: compileModelSource(settings.model),
  api,
  handoffs: settings.handoffs
    ? new DefaultHandoffSender({ post: httpsPostJson, api, portalId: settings.handoffs.portalId, allowedHosts: settings.handoffs.allowedHosts, now: () => Date.now() })
    : undefined,
  log: new JsonLog(process.stderr),
  now: Date.now,
  reports: {
    processed: (result, count) => post({ kind: 'processed', result, count }),
    handoffs: (result, count) => post({ kind: 'handoffs', result, count }),
    token: (status) => post({ kind: 'token', status })
  }
})
const counts = setInterval(() => post({ kind: 'hubspot', counts: drain.hubspotCounts() }), 1000)

port.on('message', (message: ToDrain) => {
  if (message.kind === 'notify') return drain.notify()
  clearInterval(counts)
  void drain
    .stop()
    .then(() => post({ kind: 'hubspot', counts: drain.hubspotCounts() }))
    .finally(() => db.close())
    .then(() => port.close())
})
drain.start()
