// sails-io-wasm for bundlers (webpack, vite, …) that load `.wasm` imports as ES modules.
import { Driver } from './sails_io_wasm.js';

//@@CORE@@

const io = createIo({
  Driver: Driver,
  ready: null,
  platform: 'browser',
  scriptUrl: import.meta.url,
  toBuffer: null,
  openWebSocket: function (url) { return new WebSocket(url); }
});

if (typeof globalThis.io === 'undefined') globalThis.io = io;

export { io };
export default io;
