// Shared helpers of the node tests: servers, the built package, the reference sails.io.js.
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
const stubBin = process.env.SAILS_IO_STUB_BIN || path.join(targetDir, 'debug', 'sails-io-stub');
const sailsAppStart = path.join(repo, 'tests', 'interop', 'sails-app', 'start.sh');
const pkgDir = path.join(repo, 'wasm', 'pkg');
const clientsDir = path.join(repo, 'tests', 'interop', 'clients', 'node_modules');

// Starts a server that prints `listening on http://H:P`; resolves to { url, port, stop() }.
function startServer(cmd, args, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${cmd} did not print its listening line in ${timeoutMs} ms:\n${out}\n${err}`));
    }, timeoutMs);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const url = m[1].replace(/\/$/, '');
        resolve({
          url,
          port: Number(new URL(url).port),
          proc,
          stop: () => new Promise((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            proc.once('exit', () => done());
            proc.kill('SIGTERM');
          }),
        });
      }
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
}

const startStub = (port = 0) => startServer(stubBin, ['--port', String(port)]);
const startSailsApp = () => startServer(sailsAppStart, ['--port', '0'], 60000);

// A fresh sails-io-wasm `io` (node build), not auto-connecting, quiet.
function wasmIo(wsImpl) {
  const io = require(path.join(pkgDir, 'nodejs', 'index.js'))(wsImpl);
  io.sails.autoConnect = false;
  io.sails.environment = 'production';
  return io;
}

// A fresh reference sails.io.js 1.2.1 `io` over socket.io-client 2.0.3.
function referenceIo() {
  const sioc = path.join(clientsDir, 'socket.io-client');
  const sails = path.join(clientsDir, 'sails.io.js');
  for (const k of Object.keys(require.cache)) {
    if (k.includes(`${path.sep}socket.io-client${path.sep}`) || k.includes(`${path.sep}sails.io.js${path.sep}`)) delete require.cache[k];
  }
  const io = require(sails)(require(sioc));
  io.sails.autoConnect = false;
  io.sails.environment = 'production';
  return io;
}

function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.on(event, function handler(...args) {
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(args);
    });
  });
}

// Calls `socket[method](...args, cb)` and resolves to the callback's [body, jwr].
function call(socket, method, ...args) {
  return new Promise((resolve) => socket[method](...args, (body, jwr) => resolve([body, jwr])));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { repo, pkgDir, startServer, startStub, startSailsApp, wasmIo, referenceIo, once, call, sleep };
