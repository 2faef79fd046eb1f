import type { SailsIO } from './types.js';
export * from './types.js';

/** The ready `io` (also set as `globalThis.io` unless the page already had one). */
export declare const io: SailsIO;
export default io;
