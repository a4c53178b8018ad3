/**
 * The few globals that every runtime of src/core shares: Node 20, dedicated workers and the page.
 * Core is compiled with lib ES2023 only, so DOM (document, HTMLElement, canvas) and Node (fs, Buffer)
 * are compile errors here; add a declaration only for an API that all three runtimes really have.
 */
declare var console: {
  log(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
  info(...a: unknown[]): void;
  debug(...a: unknown[]): void;
};
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare var performance: { now(): number };
declare function setTimeout(handler: (...args: unknown[]) => void, timeout?: number): unknown;
declare function clearTimeout(id: unknown): void;
declare function queueMicrotask(cb: () => void): void;
declare function structuredClone<T>(value: T): T;
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}
declare var crypto: {
  subtle: { digest(algorithm: 'SHA-256' | 'SHA-1' | 'SHA-512', data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> };
  getRandomValues<T extends ArrayBufferView>(array: T): T;
};
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBuffer | ArrayBufferView);
  }
  function compile(bytes: ArrayBuffer | ArrayBufferView): Promise<Module>;
}
