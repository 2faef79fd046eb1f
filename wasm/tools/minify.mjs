// Minifies the web build's index.js (the API with the wasm-bindgen glue bundled in) in place
// (wasm/build.sh): `node minify.mjs file.js...`.
// Names are shortened and whitespace/comments dropped; strings (messages), property names and the module's
// exports stay as they are, and so do names starting with a capital (e.g. `SailsSocket`, `Driver`).
import { readFileSync, writeFileSync } from 'node:fs';
import { minify } from 'terser';

// The API's own private members (`socket._pending`, `_emit`, …) are shortened too: they are used nowhere
// outside the module. Kept: `_request` and `_connect` (sails.io.js has them on SailsSocket, and
// applications call them), `_sailsIoJSConnect` (the global the cookie route's script calls) and
// `_environment` (read from `window.SAILS_LOCALS`); names starting with `__` or `_wbg` belong to
// wasm-bindgen (the web build's index.js holds its glue too).
const PRIVATE = /^_(?!_|wbg|request$|connect$|sailsIoJSConnect$|environment$)/;

for (const file of process.argv.slice(2)) {
  const result = await minify(readFileSync(file, 'utf8'), {
    module: true,
    ecma: 2020,
    compress: { passes: 2 },
    mangle: { properties: { regex: PRIVATE } },
    keep_classnames: true,
    keep_fnames: /^[A-Z]/,
    format: { comments: false }
  });
  writeFileSync(file, result.code + '\n');
}
