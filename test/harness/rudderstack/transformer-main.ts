/**
 * The transformer as a process of its own, as rudder-transformer is: isolated-vm needs Node's
 * startup snapshot off (`--no-node-snapshot`), which a jest worker does not have.
 */
import { RunOptions, runTransformation, TransformerEvent } from './sandbox'

type Request = { id: number; code: string; events: TransformerEvent[]; credentials: Record<string, string>; options?: RunOptions }

process.on('message', (request: Request) => {
  runTransformation(request.code, request.events, request.credentials, request.options).then((report) => process.send!({ id: request.id, report }))
})
