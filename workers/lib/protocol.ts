/**
 * The shape every worker protocol shares (architecture.md, "Worker protocol shape"): a request `{ id, type, ... }`,
 * any number of `progress` replies, then exactly one `result` or `error`. `cancel` aborts the request `target`.
 * Each worker declares its calls as a map `type → { request payload, progress, result }`.
 */
export interface CallSpec {
  request: object;
  progress: object;
  result: unknown;
}
export type CallMap = Record<string, CallSpec>;

export type RequestOf<M extends CallMap> = {
  [K in keyof M & string]: { id: number; type: K } & M[K]['request'];
}[keyof M & string];

export interface CancelRequest {
  id: number;
  type: 'cancel';
  target: number;
}

export type Reply<M extends CallMap> =
  | { id: number; type: 'progress'; progress: M[keyof M]['progress'] }
  | { id: number; type: 'result'; result: M[keyof M]['result'] }
  | { id: number; type: 'error'; message: string; code: string };
