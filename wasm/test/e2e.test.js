// The `web` build in real headless Chromium (playwright-core, /usr/bin/chromium): the page is served on
// one port, the Sails server runs on another (cross-origin), against the server-stub and the real Sails
// app: requests, events, the /__getcookie handshake (and its failure modes), reconnection.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { pkgDir, startStub, startSailsApp } = require('./helpers');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

// Serves wasm/pkg/web under /pkg/ and a blank page at /.
function startPageServer() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<!doctype html><title>sails-io-wasm e2e</title>');
      }
      const file = path.join(pkgDir, 'web', path.normalize(url.pathname.replace(/^\/pkg\//, '')));
      if (!file.startsWith(path.join(pkgDir, 'web')) || !fs.existsSync(file)) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// A server that accepts connections and never answers (for the handshake timeout).
function startSilentServer() {
  return new Promise((resolve) => {
    const sockets = [];
    const server = http.createServer(() => {});
    server.on('connection', (s) => sockets.push(s));
    server.closeAll = () => { sockets.forEach((s) => s.destroy()); server.close(); };
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

let browser;
let page;
let pageServer;
let pageErrors = [];
let cookieRequests = [];

test.before(async () => {
  pageServer = await startPageServer();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sails-io-wasm-e2e-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
});

test.after(async () => {
  if (browser) await browser.close();
  if (pageServer) pageServer.close();
});

// A fresh page that imported the web build with io.sails.url = serverUrl.
async function openPage(serverUrl) {
  if (page) await page.close();
  page = await browser.newPage();
  pageErrors = [];
  cookieRequests = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('request', (r) => { if (r.url().includes('cookie')) cookieRequests.push(r.url()); });
  const port = pageServer.address().port;
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.evaluate(async (url) => {
    const mod = await import('/pkg/index.js');
    const io = mod.default;
    io.sails.url = url;
    io.sails.environment = 'production';
    window.io = io;
    window.call = (socket, method, ...args) => new Promise((resolve) => socket[method](...args, (body, jwr) => {
      resolve({ body: body instanceof Error ? { error: body.message } : body, pojo: jwr.toPOJO ? jwr.toPOJO() : jwr });
    }));
    window.once = (socket, ev, ms = 5000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no ' + ev + ' within ' + ms + ' ms')), ms);
      socket.on(ev, function h(...a) { clearTimeout(t); socket.off(ev, h); resolve(a.map((x) => (x instanceof Error ? x.message : x))); });
    });
  }, serverUrl);
}

async function requestsEventsCookie(serverUrl) {
  await openPage(serverUrl);
  const out = await page.evaluate(async () => {
    const r = {};
    // io.socket auto-connects after the tick that loaded it.
    r.hello = await call(io.socket, 'get', '/hello');
    r.connected = io.socket.isConnected();
    r.echo = (await io.socket.post('/echo', { a: [1, 2] })).toPOJO().body.body;
    r.notFound = await call(io.socket, 'get', '/nope');
    // Events.
    const ev = once(io.socket, 'announcement');
    await io.socket.post('/blast', { from: 'browser' });
    r.event = await ev;
    // The cross-origin cookie handshake gave the page's sockets one session: log in on one socket,
    // read it on another.
    await io.socket.post('/login', { userId: 'e2e-user' });
    const second = io.sails.connect();
    r.whoami = (await second.get('/whoami')).body;
    second.disconnect();
    // Cancellation: a request in flight (the server waits for this page's answer to its question) is
    // aborted; the answer given after that gets a response the page never sees.
    const question = once(io.socket, 'question');
    const controller = new AbortController();
    const asked = io.socket.request({ method: 'post', url: '/ask', data: { q: 'e2e' }, signal: controller.signal });
    const [, answer] = await question;
    controller.abort();
    r.aborted = await asked.then(() => 'resolved', (e) => `${e.name} ${e instanceof DOMException}`);
    answer('late');
    r.afterAbort = (await io.socket.get('/hello')).body;
    return r;
  });
  assert.deepStrictEqual(pageErrors, []);
  assert.deepStrictEqual(out.hello, { body: { hello: 'world' }, pojo: { body: { hello: 'world' }, headers: {}, statusCode: 200 } });
  assert.strictEqual(out.connected, true);
  assert.deepStrictEqual(out.echo, { a: [1, 2] });
  assert.strictEqual(out.notFound.pojo.statusCode, 404);
  assert.deepStrictEqual(out.event, [{ from: 'browser' }]);
  assert.deepStrictEqual(out.whoami, { userId: 'e2e-user' });
  assert.strictEqual(out.aborted, 'AbortError true');
  assert.deepStrictEqual(out.afterAbort, { hello: 'world' });
  assert.ok(cookieRequests.some((u) => u === `${serverUrl}/__getcookie`), `getcookie requested: ${cookieRequests}`);
}

test('server-stub: requests, events, cross-origin cookie handshake', async () => {
  const stub = await startStub();
  try {
    await requestsEventsCookie(stub.url);
  } finally {
    await stub.stop();
  }
});

test('real Sails app: requests, events, cross-origin cookie handshake', async () => {
  const app = await startSailsApp();
  try {
    await requestsEventsCookie(app.url);
  } finally {
    await app.stop();
  }
});

test('cookie handshake failures are reported (404 and timeout), not a silent hang', async () => {
  const stub = await startStub();
  const silent = await startSilentServer();
  try {
    await openPage(stub.url);
    const out = await page.evaluate(async (silentUrl) => {
      io.sails.autoConnect = false;
      const missing = io.sails.connect(undefined, { useCORSRouteToGetCookie: '/no-such-cookie-route' });
      // Made while the handshake runs: it ends with the handshake's error, as nothing will connect.
      const queued = missing.get('/hello').then(() => 'resolved', (e) => e.message);
      const a = await once(missing, 'connect_error');
      const queuedOutcome = await queued;
      const slow = io.sails.connect(silentUrl, { getCookieTimeout: 300 });
      const b = await once(slow, 'connect_error');
      return { a, b, queuedOutcome, connecting: [missing.isConnecting(), slow.isConnecting()] };
    }, `http://127.0.0.1:${silent.address().port}`);
    assert.match(out.a[0], /could not load http:\/\/127\.0\.0\.1:\d+\/no-such-cookie-route/);
    assert.match(out.b[0], /no answer from http:\/\/127\.0\.0\.1:\d+\/__getcookie within 300 ms/);
    assert.strictEqual(out.queuedOutcome, out.a[0]);
    assert.deepStrictEqual(out.connecting, [false, false]);
  } finally {
    silent.closeAll();
    await stub.stop();
  }
});

test('reconnection after the server restarts', async () => {
  const stub = await startStub();
  let restarted;
  try {
    await openPage(stub.url);
    await page.evaluate(async () => {
      io.sails.autoConnect = false;
      window.rs = io.sails.connect(undefined, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 });
      window.seen = [];
      ['connect', 'disconnect', 'reconnecting', 'reconnect'].forEach((ev) => rs.on(ev, (x) => seen.push(ev + (x === undefined ? '' : ':' + x))));
      await once(rs, 'connect');
    });
    await stub.stop();
    await page.waitForFunction(() => seen.includes('disconnect:transport close'));
    restarted = await startStub(stub.port);
    const out = await page.evaluate(async () => {
      await once(rs, 'reconnect', 10000);
      const hello = (await rs.get('/hello')).body;
      return { hello, seen };
    });
    assert.deepStrictEqual(out.hello, { hello: 'world' });
    assert.deepStrictEqual(out.seen.slice(0, 3), ['connect', 'disconnect:transport close', 'reconnecting:1']);
    assert.deepStrictEqual(out.seen.slice(-2), [`reconnect:${out.seen.filter((s) => s.startsWith('reconnecting')).length}`, 'connect']);
    assert.deepStrictEqual(pageErrors, []);
  } finally {
    if (restarted) await restarted.stop();
    await stub.stop();
  }
});
