// sails-io-wasm in node: the WebSocket implementations, handshake headers, the io.socket life cycle,
// Promises, request timeouts and reconnection.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const net = require('net');
const path = require('path');
const { execFileSync } = require('child_process');
const WebSocket = require('ws');
const { startStub, wasmIo, once, call, sleep } = require('./helpers');

let stub;
test.before(async () => { stub = await startStub(); });
test.after(async () => { await stub.stop(); });

async function sessionCookie() {
  const res = await fetch(`${stub.url}/__getcookie`);
  assert.strictEqual(await res.text(), '_sailsIoJSConnect();');
  return res.headers.get('set-cookie').split(';')[0];
}

test('initialConnectionHeaders reach the handshake with npm ws and with the global WebSocket', async () => {
  assert.strictEqual(typeof globalThis.WebSocket, 'function', 'run with node 22+ or --experimental-websocket');
  const cookie = await sessionCookie();
  const viaWs = wasmIo(WebSocket).sails.connect(stub.url, { initialConnectionHeaders: { cookie } });
  const viaGlobal = wasmIo().sails.connect(stub.url, { initialConnectionHeaders: { cookie } });
  const [, login] = await call(viaWs, 'post', '/login', { userId: 'shared' });
  assert.strictEqual(login.statusCode, 200);
  // Same cookie, so the same session on the server.
  const [who] = await call(viaGlobal, 'get', '/whoami');
  assert.deepStrictEqual(who, { userId: 'shared' });
  // Without the cookie: a session of its own.
  const other = wasmIo().sails.connect(stub.url);
  const [nobody] = await call(other, 'get', '/whoami');
  assert.deepStrictEqual(nobody, { userId: null });
  for (const s of [viaWs, viaGlobal, other]) s.disconnect();
});

test('socket.io-client passed to the factory (the sails.io.js habit) is ignored', async () => {
  const fakeSocketIoClient = Object.assign(function lookup() {}, { Manager: function Manager() {} });
  const socket = wasmIo(fakeSocketIoClient).sails.connect(stub.url);
  const [body] = await call(socket, 'get', '/hello');
  assert.deepStrictEqual(body, { hello: 'world' });
  socket.disconnect();
});

test('io.socket connects after the current tick; each factory call is a fresh io', async () => {
  const factory = require('../pkg/nodejs/index.js');
  const io = factory(WebSocket);
  const io2 = factory(WebSocket);
  assert.notStrictEqual(io, io2);
  assert.notStrictEqual(io.socket, io2.socket);
  io.sails.environment = 'production';
  io.sails.url = stub.url;
  io2.sails.autoConnect = false;
  assert.strictEqual(io.socket.mightBeAboutToAutoConnect(), true);
  assert.strictEqual(io.socket.isConnected(), false);
  // Listeners bound and requests made before the connection exists work.
  const connected = once(io.socket, 'connect');
  const response = call(io.socket, 'get', '/hello');
  await sleep(0);
  assert.strictEqual(io.socket.mightBeAboutToAutoConnect(), false);
  // The connection has started; on loopback it may even be up already when this timer runs (the
  // auto-connect timer and this one can fire in different turns of the event loop).
  assert.ok(io.socket.isConnecting() || io.socket.isConnected(), 'connecting or connected after the tick');
  await connected;
  assert.deepStrictEqual((await response)[0], { hello: 'world' });
  assert.strictEqual(io.socket.isConnected(), true);
  assert.strictEqual(io.socket.isConnecting(), false);
  assert.throws(() => io.socket.reconnect(), { message: 'Cannot connect- socket is already connected' });
  io.socket.disconnect();
  assert.throws(() => io.socket.disconnect(), { message: 'Cannot disconnect- socket is already disconnected' });
  // autoConnect false: io.socket is removed after the tick.
  assert.strictEqual(io2.socket, undefined);
});

test('requests return Promises without a callback', async () => {
  const socket = wasmIo().sails.connect(stub.url);
  const jwr = await socket.post('/echo', { p: 1 });
  assert.strictEqual(jwr.statusCode, 200);
  assert.deepStrictEqual(jwr.body.body, { p: 1 });
  assert.strictEqual(typeof jwr.toPOJO, 'function');
  // An error status still resolves (only transport failures reject).
  const notFound = await socket.get('/nope');
  assert.strictEqual(notFound.statusCode, 404);
  assert.match(notFound.error.message, /^Server responded with a 404 status code/);
  const inFlight = socket.request({ url: '/hello' });
  socket.disconnect();
  await assert.rejects(inFlight, (e) => {
    assert.strictEqual(e.message, 'The socket disconnected before the request completed.');
    assert.deepStrictEqual(e.jwr, { body: null, statusCode: 0, headers: {} });
    return true;
  });
});

test('binary values in request data go out as attachments; Blobs are refused', async () => {
  const socket = wasmIo().sails.connect(stub.url);
  const bytes = new Uint8Array([9, 8, 7, 6]);
  const jwr = await socket.post('/echo', {
    buf: Buffer.from([1, 2]),
    ab: new Uint8Array([3]).buffer,
    view: bytes.subarray(1, 3), // only the view's bytes
    list: [new Uint16Array([0x0201]), 'x'],
  });
  // Sails hands the action each attachment as an array of its bytes.
  assert.deepStrictEqual(jwr.body.body, { buf: [1, 2], ab: [3], view: [8, 7], list: [[1, 2], 'x'] });
  assert.throws(() => socket.post('/echo', { f: new Blob(['x']) }), /Blob or File cannot be sent as is/);
  // Binary data as the whole body is not a dictionary: refused like a string body.
  assert.throws(() => socket.post('/echo', new Uint8Array([1])), /invalid `data`/);
  socket.disconnect();
});

test('request timeouts (per request and per socket)', async () => {
  // A server that accepts TCP connections and never answers: the socket stays connecting (its connect
  // timeout is 20 s) and the requests wait in the queue until their own deadlines.
  const held = [];
  const silent = net.createServer((c) => held.push(c));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const io = wasmIo();
  const socket = io.sails.connect(`http://127.0.0.1:${silent.address().port}`, { requestTimeout: 100 });
  const perRequest = assert.rejects(socket.request({ url: '/hello', timeout: 30 }), /timed out/);
  const [body, jwr] = await new Promise((resolve) => socket.get('/hello', (b, j) => resolve([b, j])));
  assert.ok(body instanceof Error);
  assert.strictEqual(body.message, 'The request timed out before the server responded.');
  assert.deepStrictEqual(jwr, { body: null, statusCode: 0, headers: {} });
  await perRequest;
  assert.strictEqual(socket.isConnecting(), true);
  const failed = once(socket, 'connect_error');
  for (const c of held) c.destroy();
  silent.close();
  const [error] = await failed;
  assert.ok(error instanceof Error);
  assert.strictEqual(socket.isConnecting(), false);
});

test('a request waiting for a socket that has not started connecting times out from when it was made', { timeout: 10000 }, async () => {
  const io = wasmIo();
  // A SailsSocket that nothing connects (sails.io.js exposes the class too): its requests wait in JS.
  const socket = new io.SailsSocket({ url: stub.url });
  const started = Date.now();
  const own = socket.request({ url: '/hello', timeout: 50 });
  io.sails.requestTimeout = 80; // the default, read when the request is made
  const byDefault = socket.get('/hello');
  await assert.rejects(own, { message: 'The request timed out before the server responded.' });
  await assert.rejects(byDefault, { message: 'The request timed out before the server responded.' });
  assert.ok(Date.now() - started >= 80);
  // One without a timeout waits, and goes out once the socket connects.
  io.sails.requestTimeout = undefined;
  const patient = socket.get('/hello');
  socket.reconnect();
  assert.strictEqual((await patient).statusCode, 200);
  socket.disconnect();
});

test('a socket that gives up connecting ends its queued requests with the error', async () => {
  // Refused, no reconnection: the queued requests end with the connect error instead of waiting for a
  // connection nobody makes (sails.io.js keeps them queued forever).
  const socket = wasmIo().sails.connect('http://127.0.0.1:65531');
  const failed = once(socket, 'connect_error');
  const viaPromise = socket.get('/hello');
  const [body, jwr] = await call(socket, 'post', '/login', { userId: 'x' });
  const [error] = await failed;
  assert.ok(body instanceof Error);
  assert.strictEqual(body.message, error.message);
  assert.match(body.message, /^transport error/);
  assert.deepStrictEqual(jwr, { body: null, statusCode: 0, headers: {} });
  await assert.rejects(viaPromise, (e) => e.message === error.message);
  // No driver at all (here: no url in node): the requests made meanwhile end with the settings error.
  const io = require(path.join(__dirname, '..', 'pkg', 'nodejs', 'index.js'))(WebSocket);
  io.sails.environment = 'production';
  const noUrl = once(io.socket, 'connect_error');
  const early = io.socket.get('/hello');
  const [settingsError] = await noUrl;
  assert.match(settingsError.message, /no `url`/);
  await assert.rejects(early, (e) => e.message === settingsError.message);
});

test('an AbortSignal cancels a request: queued ones are never sent, an answer after the abort is dropped', async () => {
  const isAbort = (e) => e instanceof Error && e.name === 'AbortError';
  const socket = wasmIo().sails.connect(stub.url);
  // Queued (the connection is not up yet) and aborted: it ends at once and never reaches the server.
  const queued = new AbortController();
  const login = socket.post('/login', { userId: 'aborted' });
  const cancelledLogin = socket.request({ method: 'post', url: '/login', data: { userId: 'never' }, signal: queued.signal });
  queued.abort();
  await assert.rejects(cancelledLogin, isAbort);
  assert.strictEqual((await login).statusCode, 200);
  const [who] = await call(socket, 'get', '/whoami');
  assert.deepStrictEqual(who, { userId: 'aborted' });

  // In flight: the server holds `/ask` until this socket answers its question. Abort, then answer: the
  // server's late 200 is dropped, and the callback ran exactly once, with the signal's reason.
  const question = once(socket, 'question');
  const inFlight = new AbortController();
  const reason = new Error('no longer needed');
  const calls = [];
  socket.request({ method: 'post', url: '/ask', data: { q: 1 }, signal: inFlight.signal }, (body, jwr) => calls.push([body, jwr]));
  const [, answer] = await question;
  inFlight.abort(reason);
  assert.strictEqual(calls.length, 1);
  assert.strictEqual(calls[0][0], reason);
  assert.deepStrictEqual(calls[0][1], { body: null, statusCode: 0, headers: {} });
  assert.strictEqual(reason.jwr, undefined, 'the caller\'s reason is passed on untouched');
  answer('late');
  // A second ask, answered: its response comes after the first one's on the same socket.
  socket.on('question', (q, ack) => ack('on time'));
  const [body] = await call(socket, 'post', '/ask', { q: 2 });
  assert.deepStrictEqual(body, { answer: ['on time'] });
  await sleep(50);
  assert.strictEqual(calls.length, 1);

  // Already aborted: not sent, rejected with the signal's reason after the call returns; the default
  // reason is a DOMException named AbortError. Aborting after the end changes nothing.
  const done = new AbortController();
  done.abort();
  let settled = false;
  const early = socket.get('/hello').then(() => { settled = true; });
  const pre = socket.request({ url: '/hello', signal: done.signal }).finally(() => { settled = true; });
  assert.strictEqual(settled, false);
  await assert.rejects(pre, (e) => isAbort(e) && e === done.signal.reason);
  await early;
  const after = new AbortController();
  const ok = await socket.request({ url: '/hello', signal: after.signal });
  after.abort();
  assert.deepStrictEqual(ok.body, { hello: 'world' });
  assert.throws(() => socket.request({ url: '/hello', signal: {} }), /Invalid `signal` provided/);
  socket.disconnect();
});

test('an AbortSignal cancels a request made before io.socket exists', async () => {
  const io = require(path.join(__dirname, '..', 'pkg', 'nodejs', 'index.js'))(WebSocket);
  io.sails.environment = 'production';
  io.sails.url = stub.url;
  const controller = new AbortController();
  const aborted = io.socket.request({ method: 'post', url: '/login', data: { userId: 'early' }, signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, (e) => e.name === 'AbortError');
  await once(io.socket, 'connect');
  const [who] = await call(io.socket, 'get', '/whoami');
  assert.deepStrictEqual(who, { userId: null });
  io.socket.disconnect();
});

test('an exception thrown by a request callback is reported as uncaught, and the socket goes on', () => {
  // In a child process, where an uncaught exception can be watched without failing this test run.
  const script = `
    const io = require(process.env.PKG)(require(process.env.WS));
    io.sails.autoConnect = false;
    io.sails.environment = 'production';
    const seen = [];
    process.on('uncaughtException', (e) => seen.push('uncaught: ' + e.message));
    const socket = io.sails.connect(process.env.URL);
    socket.get('/hello', () => { throw new Error('thrown by a callback'); });
    socket.get('/hello', (body) => {
      seen.push('next callback: ' + JSON.stringify(body));
      setTimeout(() => { console.log(JSON.stringify(seen)); process.exit(0); }, 50);
    });
  `;
  const out = execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 10000,
    env: { ...process.env, PKG: path.join(__dirname, '..', 'pkg', 'nodejs', 'index.js'), WS: require.resolve('ws'), URL: stub.url },
  });
  // The rethrow comes in a later task, so either line may come first.
  assert.deepStrictEqual(JSON.parse(out).sort(), ['next callback: {"hello":"world"}', 'uncaught: thrown by a callback']);
});

test('an ack function answers once, as socket.io-client\'s does', async () => {
  // A scripted EIO 3 server that asks one question and records what comes back.
  const server = new WebSocket.Server({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const frames = [];
  server.on('connection', (ws) => {
    ws.send('0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":60000}');
    ws.send('40');
    ws.send('427["question",{"q":1}]');
    ws.on('message', (m) => frames.push(String(m)));
  });
  const socket = wasmIo().sails.connect(`http://127.0.0.1:${server.address().port}`);
  const [question, ack] = await once(socket, 'question');
  assert.deepStrictEqual(question, { q: 1 });
  ack('first');
  ack('second');
  // A request after the acks: once its frame has arrived, so has anything sent before it.
  const after = socket.get('/after').catch((e) => e); // never answered: ends when the socket disconnects
  while (!frames.some((f) => f.includes('/after'))) await sleep(10);
  assert.deepStrictEqual(frames.filter((f) => f.startsWith('43')), ['437["first"]']);
  socket.disconnect();
  assert.match((await after).message, /disconnected/);
  await new Promise((resolve) => server.close(resolve));
});

test('reconnection after a server restart, with the sails.io.js event sequence', async () => {
  const server = await startStub();
  const port = server.port;
  const socket = wasmIo().sails.connect(server.url, {
    reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 200,
  });
  const seen = [];
  for (const ev of ['connect', 'disconnect', 'reconnect_attempt', 'reconnecting', 'reconnect_error', 'reconnect']) {
    socket.on(ev, (arg) => seen.push(ev === 'disconnect' ? `${ev}:${arg}` : ev));
  }
  await once(socket, 'connect');
  const disconnected = once(socket, 'disconnect');
  await server.stop();
  await disconnected;
  // Made while disconnected: queued, sent after the reconnection.
  const queued = socket.get('/hello');
  await sleep(300);
  const restarted = await startStub(port);
  try {
    await once(socket, 'reconnect', 10000).catch((e) => { throw new Error(`${e.message}; events: ${seen}`); });
    assert.deepStrictEqual((await queued).body, { hello: 'world' });
    assert.strictEqual(seen[0], 'connect');
    assert.strictEqual(seen[1], 'disconnect:transport close');
    assert.deepStrictEqual(seen.slice(2, 4), ['reconnect_attempt', 'reconnecting']);
    assert.deepStrictEqual(seen.slice(-2), ['reconnect', 'connect']);
    socket.disconnect();
  } finally {
    await restarted.stop();
  }
});

test('server events reach listeners; off and removeAllListeners', async () => {
  const socket = wasmIo().sails.connect(stub.url);
  const got = [];
  const a = (m) => got.push(['a', m]);
  const b = (m) => got.push(['b', m]);
  socket.on('announcement', a).on('announcement', b);
  await socket.post('/blast', { n: 1 });
  await sleep(50);
  socket.off('announcement', a);
  await socket.post('/blast', { n: 2 });
  await sleep(50);
  socket.removeAllListeners();
  await socket.post('/blast', { n: 3 });
  await sleep(50);
  assert.deepStrictEqual(got, [['a', { n: 1 }], ['b', { n: 1 }], ['b', { n: 2 }]]);
  socket.disconnect();
});

test('settings errors', () => {
  const io = wasmIo();
  assert.throws(() => io.sails.connect(stub.url, { query: { a: 1 } }), /does not currently support configuration as a dictionary/);
  assert.throws(() => io.sails.connect('http://h/namespace'), /namespace/);
  assert.throws(() => io.sails.connect(), /no `url`/);
  assert.throws(() => io.sails.connect(stub.url, { eio: 5 }), /unsupported `eio` "5" \(use 3 or 4\)/);
  assert.throws(() => io.sails.connect(stub.url, { headers: 'x-a: 1' }), /invalid `headers`: expected a JSON object/);
  assert.throws(() => io.sails.connect('localhost:1337'), /invalid url "localhost:1337"/);
  const socket = io.sails.connect(stub.url);
  assert.throws(() => socket.request({ url: '/x', method: 'trace' }), /unsupported method "trace"/);
  assert.throws(() => socket._request(), /deprecated/);
  socket.on('connect', () => socket.disconnect());
});
