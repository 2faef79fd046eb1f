'use strict';
var test = require('node:test');
var assert = require('node:assert');
var adapter = require('../eio4-adapter');
var loadSailsIo = require('../sdk').loadSailsIo;
var startServer = require('./server').startServer;

test('a SailsSocket hides its connection options from Object.assign (why socket.io-client 4 needs the adapter)', function () {
  var io = loadSailsIo(4);
  var SailsSocket = io.socket.constructor;
  var s = new SailsSocket({ url: 'http://127.0.0.1:9', query: 'a=1', path: '/socket.io', transports: ['websocket'], reconnection: false });
  var assigned = Object.assign({}, s);
  assert.strictEqual(assigned.query, undefined);
  assert.strictEqual(assigned.path, undefined);
  assert.strictEqual(assigned.transports, undefined);
  var plain = adapter.plainOptions(s);
  assert.strictEqual(plain.query, 'a=1');
  assert.strictEqual(plain.path, '/socket.io');
  assert.deepStrictEqual(plain.transports, ['websocket']);
  assert.strictEqual(plain.reconnection, false);
  assert.strictEqual(plain.url, 'http://127.0.0.1:9');
  // The SDK's bookkeeping is not passed on as engine options.
  assert.strictEqual(plain.eventQueue, undefined);
  assert.strictEqual(Object.keys(plain).some(function (k) { return k.charAt(0) === '_'; }), false);
});

test('adaptIo hands socket.io-client a plain copy of the options, with the SDK query string', function () {
  var seen = [];
  function fakeIo(url, opts) { seen.push({ url: url, opts: opts }); return { fake: true }; }
  fakeIo.protocol = 5;
  var adapted = adapter.adaptIo(fakeIo);
  assert.strictEqual(adapted.protocol, 5);
  assert.notStrictEqual(adapted, fakeIo);
  var options = {};
  Object.defineProperty(options, 'query', { value: '__sails_io_sdk_version=1.2.1', enumerable: false });
  Object.defineProperty(options, 'transports', { value: ['websocket'], enumerable: false });
  options.extraHeaders = { cookie: 'x=1' };
  assert.deepStrictEqual(adapted('http://h:1', options), { fake: true });
  assert.strictEqual(seen[0].url, 'http://h:1');
  assert.deepStrictEqual(seen[0].opts, { query: '__sails_io_sdk_version=1.2.1', transports: ['websocket'], extraHeaders: { cookie: 'x=1' } });
  assert.throws(function () { adapter.adaptIo({}); }, TypeError);
});

function request(socket, options) {
  return new Promise(function (resolve) {
    socket.request(options, function (body, jwr) { resolve(jwr); });
  });
}

function connected(socket) {
  return new Promise(function (resolve, reject) {
    if (socket.isConnected()) { resolve(); return; }
    var t = setTimeout(function () { reject(new Error('no connect within 5 s')); }, 5000);
    socket.on('connect', function () { clearTimeout(t); resolve(); });
  });
}

test('sails.io.js over the adapter speaks EIO=4 to a real server and keeps its SDK query', async function (t) {
  var server = await startServer();
  t.after(function () { return server.stop(); });
  var io = loadSailsIo(4);
  var socket = io.sails.connect(server.url, { headers: { 'x-test': 'adapter' } });
  var queued = request(socket, { method: 'get', url: '/echo?q=1' });   // queued before connect
  await connected(socket);
  var engine = socket._raw.io.engine;
  assert.strictEqual(engine.transport.query.EIO, 4, 'engine.io-client 6 connects with EIO=4');
  assert.strictEqual(engine.transport.query.__sails_io_sdk_version, '1.2.1');
  assert.strictEqual(engine.transport.name, 'websocket');
  // Socket.IO v5: the socket id is not the engine id.
  assert.notStrictEqual(socket._raw.id, engine.id);
  var jwr = await queued;
  // Without the SDK version the server would answer with a bare parse error (status 200, no body).
  assert.strictEqual(jwr.statusCode, 200);
  assert.strictEqual(jwr.body.isSocket, true);
  assert.deepStrictEqual(jwr.body.query, { q: '1' });
  assert.strictEqual(jwr.body.headers['x-test'], 'adapter');
  var me = await request(socket, { method: 'get', url: '/me/id' });
  assert.strictEqual(me.body.id, socket._raw.id);
  socket.disconnect();
});

test('without the adapter, sails.io.js options never reach engine.io-client 6 and the connection fails', async function (t) {
  var server = await startServer();
  t.after(function () { return server.stop(); });
  var ioV4 = require('socket.io-client-v4');
  // The call sails.io.js makes: io(url, sailsSocket), whose options are non-enumerable accessors.
  var io = loadSailsIo(4);
  var SailsSocket = io.socket.constructor;
  var s = new SailsSocket({ url: server.url, query: 'probe=1&__sails_io_sdk_version=1.2.1', transports: ['websocket'], reconnection: false });
  var raw = ioV4(server.url, s);
  try {
    var engine = raw.io.engine;
    assert.strictEqual(engine.opts.path, '/engine.io/', 'path falls back to engine.io\'s default');
    assert.strictEqual((engine.opts.query || {}).probe, undefined, 'the SDK query string is lost');
    var outcome = await new Promise(function (resolve) {
      raw.on('connect', function () { resolve('connected'); });
      raw.on('connect_error', function (err) { resolve('connect_error: ' + err.message); });
    });
    assert.match(outcome, /^connect_error/);
  } finally {
    raw.close();
  }
});
