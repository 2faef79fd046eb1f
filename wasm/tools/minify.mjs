// Minifies the browser builds' JS in place (wasm/build.sh): `node minify.mjs file.js...`.
// Names are shortened and whitespace/comments dropped; strings (messages), property names and the module's
// exports stay as they are, and so do names starting with a capital (e.g. `SailsSocket`, `Driver`).
import { readFileSync, writeFileSync } from 'node:fs';
import { minify } from 'terser';

for (const file of process.argv.slice(2)) {
  const result = await minify(readFileSync(file, 'utf8'), {
    module: true,
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    keep_classnames: true,
    keep_fnames: /^[A-Z]/,
    format: { comments: false }
  });
  writeFileSync(file, result.code + '\n');
}
