// sails-io-wasm for browsers (ES module, no bundler): `import io from './web/index.js'`. The wasm file is
// fetched next to this module; sockets created before it is ready connect once it is. wasm/build.sh
// bundles the wasm-bindgen glue imported here into the built index.js (one file to download).
import init, { Driver } from './sails_io_wasm.js';

//@@CORE@@

const ready = init();
ready.catch(function (e) {
  if (typeof console !== 'undefined') console.error('sails-io-wasm: could not load the WebAssembly module', e);
});

const io = createIo({
  Driver: Driver,
  ready: ready,
  platform: 'browser',
  scriptUrl: import.meta.url,
  toBuffer: null,
  openWebSocket: function (url) { return new WebSocket(url); }
});

// Like the sails.io.js <script>, expose `io` globally unless the page already has one.
if (typeof globalThis.io === 'undefined') globalThis.io = io;

export { io, ready };
export default io;
