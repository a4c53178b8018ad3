import { SaehdError } from '../../core/errors.ts';
import type { CallMap, Reply } from '../../../workers/lib/protocol.ts';

/**
 * The error a worker reported, with its user message and code. A SaehdError, because the worker already turned it into
 * a user message: toUserMessage passes it through as it is.
 */
export class WorkerCallError extends SaehdError {
  constructor(message: string, code: string) {
    super(code, message);
  }
}

export interface CallOptions<P> {
  signal?: AbortSignal;
  onProgress?: (p: P) => void;
  transfer?: Transferable[];
}

/** Promise-per-request client for a worker that uses workers/lib/serve.ts. */
export class WorkerClient<M extends CallMap> {
  private nextId = 1;
  private pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (p: unknown) => void }
  >();
  constructor(private readonly worker: Worker) {
    worker.onmessage = (ev: MessageEvent<Reply<M>>) => {
      const r = ev.data;
      const p = this.pending.get(r.id);
      if (!p) return;
      if (r.type === 'progress') p.onProgress?.(r.progress);
      else {
        this.pending.delete(r.id);
        if (r.type === 'result') p.resolve(r.result);
        else p.reject(new WorkerCallError(r.message, r.code));
      }
    };
    worker.onerror = (ev) => {
      const err = new WorkerCallError(`worker stopped: ${ev.message || 'failed to load'}`, 'worker-crash');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  call<K extends keyof M & string>(
    type: K,
    request: M[K]['request'],
    opts: CallOptions<M[K]['progress']> = {},
  ): Promise<M[K]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: opts.onProgress as ((p: unknown) => void) | undefined,
      });
      if (opts.signal) {
        if (opts.signal.aborted) this.worker.postMessage({ id: this.nextId++, type: 'cancel', target: id });
        opts.signal.addEventListener('abort', () => this.worker.postMessage({ id: this.nextId++, type: 'cancel', target: id }), {
          once: true,
        });
      }
      this.worker.postMessage({ ...request, id, type }, opts.transfer ?? []);
    });
  }

  /** Stops the worker; calls still waiting are rejected (code 'worker-terminated'), so no caller waits forever. */
  terminate(): void {
    this.worker.terminate();
    const err = new WorkerCallError('the worker was stopped before it answered', 'worker-terminated');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
