// Gives the web build's wasm imports and exports one- or two-letter names (wasm/build.sh).
//
//   node short-names.mjs map.json module.wasm glue.js
//
// map.json is what `wasm-opt --minify-imports-and-exports-and-modules` prints for module.wasm: for each
// import its module, its old name and its new name, and for each export its old and new names (the new
// module name is read from module.wasm). wasm-bindgen names its imports
// `__wbg_<name>_<16 hex digits>` and its closure shims after their whole Rust types, so the names alone
// were 3 KB of the .wasm, and all of them appear again in the glue. This rewrites the glue (before
// terser) to match: the keys of its import object, the import module's key, and each `wasm.<export>`.
// It fails, leaving the file as it was, when the glue does not have the shape it expects (one
// occurrence of each import key, no old export name left), so a new wasm-bindgen cannot break the
// build silently.
import { readFileSync, writeFileSync } from 'node:fs';

const [mapFile, wasmFile, glueFile] = process.argv.slice(2);
const map = JSON.parse(readFileSync(mapFile, 'utf8'));
let glue = readFileSync(glueFile, 'utf8');

const fail = (why) => {
  console.error(`short-names: ${why} in ${glueFile}`);
  process.exit(1);
};
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const replaceAll = (pattern, replacer, expected) => {
  let count = 0;
  glue = glue.replace(pattern, (...match) => {
    count += 1;
    return replacer(...match);
  });
  if (expected !== undefined && count !== expected) fail(`${pattern} found ${count} times, expected ${expected}`);
  return count;
};

const modules = new Set(map.imports.map(([module]) => module));
if (modules.size !== 1) fail(`expected one import module, the map has ${modules.size}`);
const [oldModule] = modules;
const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmFile)));
const newModules = new Set(imports.map((i) => i.module));
const newNames = imports.map((i) => i.name).sort().join();
if (newModules.size !== 1 || newNames !== map.imports.map(([, , name]) => name).sort().join()) {
  fail(`the imports of ${wasmFile} are not those of ${mapFile}`);
}
const [newModule] = newModules;
replaceAll(new RegExp(`"${escape(oldModule)}":`, 'g'), () => `"${newModule}":`, 1);

for (const [, oldName, newName] of map.imports) {
  // A key of the import object: `name: function(...)` at the start of a line.
  replaceAll(new RegExp(`^(\\s*)${escape(oldName)}:`, 'gm'), (_, indent) => `${indent}"${newName}":`, 1);
  if (new RegExp(`\\b${escape(oldName)}\\b`).test(glue)) fail(`${oldName} is used elsewhere`);
}

for (const [oldName, newName] of map.exports) {
  replaceAll(new RegExp(`\\bwasm\\.${escape(oldName)}\\b`, 'g'), () => `wasm["${newName}"]`);
  // (The glue's own functions may have an export's name: terser renames those.)
  if (new RegExp(`[.'"\`]${escape(oldName)}\\b`).test(glue)) fail(`${oldName} is used other than as wasm.${oldName}`);
}
// Every use of an export now goes through a new name.
const left = glue.match(/\bwasm\.[A-Za-z_$][\w$]*/);
if (left) fail(`${left[0]} is not an export of the .wasm`);

writeFileSync(glueFile, glue);
