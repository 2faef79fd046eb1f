// The same calls through sails-io-wasm and through the real sails.io.js 1.2.1, against the same server
// (the server-stub and the real Sails app): the (body, jwr) pairs must be equal.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const WebSocket = require('ws');
const { startStub, startSailsApp, wasmIo, referenceIo, once, call } = require('./helpers');

// What a callback saw, in comparable form.
function shape(body, jwr) {
  return {
    body: body instanceof Error ? { error: body.message } : body,
    jwrKeys: Object.keys(jwr).sort(),
    pojo: typeof jwr.toPOJO === 'function' ? jwr.toPOJO() : jwr,
    string: typeof jwr.toString === 'function' && jwr.toString !== Object.prototype.toString ? String(jwr) : null,
    error: jwr.error ? jwr.error.message : undefined,
    isJwr: typeof jwr.toPOJO === 'function',
  };
}

const CALLS = [
  ['get', '/hello'],
  ['post', '/echo', { a: 1, list: [1, 2, 3], nested: { s: 'x' } }],
  // Binary attachments (socket.io-client 2 sends Buffers and ArrayBuffers as binary).
  ['post', '/echo', { name: 'logo.png', file: Buffer.from([137, 80, 78, 71]), raw: new Uint8Array([5, 6]).buffer, parts: [Buffer.from([1]), 2] }],
  ['put', '/echo', { b: true }],
  ['patch', '/echo', { c: null }],
  ['delete', '/echo'],
  ['get', '/echo?q=1&r=two', { extra: 'param' }],
  ['request', { method: 'post', url: '/echo', headers: { 'x-test': 'hdr' }, data: { d: 1 } }],
  ['request', { method: 'GET', url: '/echo', params: [1, 2] }],
  ['get', '/status/201'],
  ['get', '/status/204'],
  ['get', '/status/404'],
  ['get', '/status/500'],
  ['get', '/text'],
  ['get', '/bytes'],   // a binary body: a Buffer in node for both clients
  ['get', '/redirect'],
  ['get', '/no/such/route'],
  ['post', '/login', { userId: 7 }],
  ['get', '/whoami'],
  ['get', '/secret'],
];

const BAD_REQUESTS = [
  [{ url: '/x' }, 'not a function'],
  [undefined],
  [{ url: 5 }],
  [{ url: '/x', method: 5 }],
  [{ url: '/x', headers: 'h' }],
  [{ url: '/x', params: 'p' }],
  [{ url: '/x', data: 'd' }],
  [{ url: '/x', data: { a: 1 }, params: { b: 2 } }],
];

async function runBoth(server, t) {
  const ref = referenceIo().sails.connect(server.url);
  const mine = wasmIo(WebSocket).sails.connect(server.url);
  await Promise.all([once(ref, 'connect'), once(mine, 'connect')]);
  try {
    await t.test('requests give the same (body, jwr)', async () => {
      for (const [method, ...args] of CALLS) {
        const [a, b] = await Promise.all([call(ref, method, ...args), call(mine, method, ...args)]);
        assert.deepStrictEqual(shape(...b), shape(...a), `${method} ${JSON.stringify(args)}`);
      }
    });
    await t.test('invalid requests throw the same errors', () => {
      for (const [options, cb] of BAD_REQUESTS) {
        let expected;
        let actual;
        try { ref.request(options, cb); } catch (e) { expected = e.message; }
        try { mine.request(options, cb); } catch (e) { actual = e.message; }
        assert.ok(expected, `sails.io.js throws for ${JSON.stringify(options)}`);
        assert.strictEqual(actual, expected);
      }
    });
    await t.test('server events arrive the same', async () => {
      const events = Promise.all([once(ref, 'announcement'), once(mine, 'announcement')]);
      await call(mine, 'post', '/blast', { hello: 'all', n: [1, 2] });
      const [a, b] = await events;
      assert.deepStrictEqual(b, a);
      assert.deepStrictEqual(b, [{ hello: 'all', n: [1, 2] }]);
    });
    await t.test('a server event that asks for an ack is answered the same way', async () => {
      // POST /ask sends the requesting socket `question` with an ack and answers with the ack's arguments.
      const questions = [[], []];
      [ref, mine].forEach((s, i) => s.on('question', (q, ack) => {
        questions[i].push(q);
        ack({ got: q, n: [1, 2] }, 'two');
      }));
      const [a, b] = await Promise.all([call(ref, 'post', '/ask', { q: 1 }), call(mine, 'post', '/ask', { q: 1 })]);
      assert.deepStrictEqual(shape(...b), shape(...a));
      assert.deepStrictEqual(b[0], { answer: [{ got: { q: 1 }, n: [1, 2] }, 'two'] });
      assert.deepStrictEqual(questions[1], questions[0]);
    });
    await t.test('binary ack arguments come back as binary the same way', async () => {
      // Real Sails hands the acked Buffers back to socket.io in the JWR, which sends them as attachments.
      [ref, mine].forEach((s) => {
        s.off('question');
        s.on('question', (q, ack) => ack({ file: Buffer.from([0, 1, 255]), q: q }, new Uint8Array([7]).buffer));
      });
      const [a, b] = await Promise.all([call(ref, 'post', '/ask', { q: 2 }), call(mine, 'post', '/ask', { q: 2 })]);
      assert.deepStrictEqual(shape(...b), shape(...a));
      assert.deepStrictEqual(b[0], { answer: [{ file: Buffer.from([0, 1, 255]), q: { q: 2 } }, Buffer.from([7])] });
      assert.strictEqual(b[1].statusCode, 200);
    });
    await t.test('a request in flight when the socket disconnects fails the same way', async () => {
      const pending = [call(ref, 'get', '/hello'), call(mine, 'get', '/hello')];
      const disconnects = [once(ref, 'disconnect'), once(mine, 'disconnect')];
      ref.disconnect();
      mine.disconnect();
      const [a, b] = await Promise.all(pending);
      assert.deepStrictEqual(shape(...b), shape(...a));
      assert.deepStrictEqual(shape(...b).pojo, { body: null, statusCode: 0, headers: {} });
      assert.deepStrictEqual(await disconnects[1], await disconnects[0]);
      assert.strictEqual(mine.isConnected(), ref.isConnected());
      let expected;
      let actual;
      try { ref.disconnect(); } catch (e) { expected = e.message; }
      try { mine.disconnect(); } catch (e) { actual = e.message; }
      assert.strictEqual(actual, expected);
    });
  } finally {
    for (const s of [ref, mine]) if (s.isConnected()) s.disconnect();
  }
}

test('sails-io-wasm vs sails.io.js: server-stub', async (t) => {
  const server = await startStub();
  try {
    await runBoth(server, t);
  } finally {
    await server.stop();
  }
});

test('sails-io-wasm vs sails.io.js: real Sails app', async (t) => {
  const server = await startSailsApp();
  try {
    await runBoth(server, t);
  } finally {
    await server.stop();
  }
});
