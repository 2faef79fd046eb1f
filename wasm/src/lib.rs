//! `sails-io-wasm`: the npm package `sails-io-wasm` (not built yet, see README).
