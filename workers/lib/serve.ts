/// <reference lib="webworker" />
import { SaehdError, toUserMessage } from '../../src/core/errors.ts';
import type { CallMap, CancelRequest, Reply, RequestOf } from './protocol.ts';

export interface CallContext<P> {
  signal: AbortSignal;
  progress(p: P): void;
  /** Mark ArrayBuffers of the result to be transferred, not copied. */
  transfer(...buffers: ArrayBuffer[]): void;
}

export type Handlers<M extends CallMap> = {
  [K in keyof M]: (req: M[K]['request'], ctx: CallContext<M[K]['progress']>) => Promise<M[K]['result']>;
};

/** Run a worker's handlers: one final reply per request, errors as user messages (never a stack trace). */
export function serve<M extends CallMap>(handlers: Handlers<M>): void {
  const scope = self as unknown as DedicatedWorkerGlobalScope;
  const running = new Map<number, AbortController>();
  scope.onmessage = async (ev: MessageEvent<RequestOf<M> | CancelRequest>) => {
    const msg = ev.data;
    if (msg.type === 'cancel') {
      running.get((msg as CancelRequest).target)?.abort();
      return;
    }
    const ac = new AbortController();
    running.set(msg.id, ac);
    const transfers: ArrayBuffer[] = [];
    const post = (r: Reply<M>, t: Transferable[] = []) => scope.postMessage(r, t);
    const ctx: CallContext<object> = {
      signal: ac.signal,
      progress: (p) => post({ id: msg.id, type: 'progress', progress: p }),
      transfer: (...b) => transfers.push(...b),
    };
    try {
      const handler = handlers[msg.type as keyof M] as unknown as (r: unknown, c: CallContext<object>) => Promise<unknown>;
      if (!handler) throw new SaehdError('unknown-call', `worker has no call "${msg.type}"`);
      const result = await handler(msg, ctx);
      post({ id: msg.id, type: 'result', result } as Reply<M>, transfers);
    } catch (e) {
      if (!(e instanceof SaehdError)) console.error(e);
      post({ id: msg.id, type: 'error', message: toUserMessage(e), code: e instanceof SaehdError ? e.code : 'unexpected' });
    } finally {
      running.delete(msg.id);
    }
  };
}
