import type { SailsIO } from './types.js';
export * from './types.js';

/** The ready `io` (also set as `globalThis.io` unless the page already had one). */
export declare const io: SailsIO;
/** Resolves once the WebAssembly module is loaded (web build only; sockets wait for it by themselves). */
export declare const ready: Promise<unknown>;
export default io;
