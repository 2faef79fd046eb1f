import type { SailsIO } from './types';
export * from './types';

/** The ready `io` (also set as `globalThis.io` unless the page already had one). */
export declare const io: SailsIO;
export default io;
