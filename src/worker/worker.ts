// worker: the inheritune-rt module web worker. All GPU work of a page runs here, so the page's main
// thread never blocks: `new Worker(url_of_this_bundle, { type: 'module' })`, then talk to it with
// InherituneWorker (src/worker/client.ts). The messages are in src/worker/protocol.ts; what each
// request does is in src/worker/session.ts. Isomorphic core only (no Node built-ins).
import { Session, wireError } from './session.js';
import type { Request, Response } from './protocol.js';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
const session = new Session();

const post = (msg: Response, transfer: Transferable[] = []) => scope.postMessage(msg, transfer);

scope.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  const id = typeof req?.id === 'number' ? req.id : -1;
  session.handle(req, (data) => post({ id, kind: 'progress', data }))
    .then((r) => post({ id, kind: 'result', data: r.data }, r.transfer))
    .catch((err) => post({ id, kind: 'error', error: wireError(err) }));
};
