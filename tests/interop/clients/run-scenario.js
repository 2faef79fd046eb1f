#!/usr/bin/env node
/**
 * Runs tests/interop/scenario.json with the real sails.io.js 1.2.1 and writes
 * the transcript (JSON lines) described in tests/interop/README.md.
 *
 *   node run-scenario.js --url http://127.0.0.1:PORT --eio 3|4 --out FILE
 *                        [--scenario FILE] [--verbose]
 *
 * The server must be freshly started (record ids and room membership are part
 * of the transcript). Exit status: 0 when every step ran and every `expect`
 * held, 1 otherwise (the transcript is written either way), 2 on usage errors.
 */
'use strict';

var fs = require('fs');
var path = require('path');
var http = require('http');
var crypto = require('crypto');
var util = require('util');
var loadSailsIo = require('./sdk').loadSailsIo;

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------
function parseArgs(argv) {
  var args = { scenario: path.join(__dirname, '..', 'scenario.json'), verbose: false };
  for (var i = 0; i < argv.length; i++) {
    var a = argv[i];
    if (a === '--verbose') { args.verbose = true; continue; }
    var m = /^--(url|eio|out|scenario)(?:=(.*))?$/.exec(a);
    if (!m) { usage('unknown argument: ' + a); }
    args[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
  }
  if (!args.url || !args.eio || !args.out) { usage('missing --url, --eio or --out'); }
  if (args.eio !== '3' && args.eio !== '4') { usage('--eio must be 3 or 4'); }
  args.url = args.url.replace(/\/+$/, '');
  return args;
}

function usage(msg) {
  process.stderr.write(msg + '\nusage: run-scenario.js --url http://127.0.0.1:PORT --eio 3|4 --out FILE [--scenario FILE] [--verbose]\n');
  process.exit(2);
}

// sails.io.js and socket.io-client log with console.log; keep stdout clean.
console.log = function () { process.stderr.write(util.format.apply(util, arguments) + '\n'); };

// ---------------------------------------------------------------------------
// Transcript helpers (format: README.md "Transcript")
// ---------------------------------------------------------------------------
var LONG_STRING = 4096;

/** Sorted keys, long strings replaced by a digest, undefined dropped. */
function canonical(value) {
  // Binary data as JSON.stringify writes a Buffer ({"type":"Buffer","data":[…]}), as the Rust runner does.
  if (Buffer.isBuffer(value)) { return canonical(value.toJSON()); }
  if (typeof value === 'string') {
    if (value.length > LONG_STRING) {
      var digest = crypto.createHash('sha256').update(value, 'utf8').digest('hex');
      return '<string length=' + value.length + ' sha256=' + digest + '>';
    }
    return value;
  }
  if (Array.isArray(value)) {
    return value.map(function (v) { return v === undefined ? null : canonical(v); });
  }
  if (value && typeof value === 'object') {
    var out = {};
    Object.keys(value).sort().forEach(function (k) {
      if (value[k] !== undefined) { out[k] = canonical(value[k]); }
    });
    return out;
  }
  return value;
}

function canonicalJson(value) {
  return JSON.stringify(canonical(value));
}

// ---------------------------------------------------------------------------
// Scenario data helpers
// ---------------------------------------------------------------------------

/** `{"$repeat": "ab", "times": 3}` -> "ababab"; `{{var}}` substitution in strings. */
function materialize(value, vars) {
  if (typeof value === 'string') {
    var whole = /^\{\{([A-Za-z0-9_]+)\}\}$/.exec(value);
    if (whole && Object.prototype.hasOwnProperty.call(vars, whole[1])) {
      return vars[whole[1]];   // "{{petId}}" alone keeps the saved value's type
    }
    return value.replace(/\{\{([A-Za-z0-9_]+)\}\}/g, function (all, name) {
      if (!Object.prototype.hasOwnProperty.call(vars, name)) {
        throw new Error('unknown variable {{' + name + '}}');
      }
      return String(vars[name]);
    });
  }
  if (Array.isArray(value)) {
    return value.map(function (v) { return materialize(v, vars); });
  }
  if (value && typeof value === 'object') {
    if (Object.prototype.hasOwnProperty.call(value, '$repeat')) {
      return new Array(value.times + 1).join(value.$repeat);
    }
    if (Object.prototype.hasOwnProperty.call(value, '$bytes')) {
      return Buffer.from(value.$bytes);   // socket.io sends a Buffer as a binary attachment
    }
    var out = {};
    Object.keys(value).forEach(function (k) { out[k] = materialize(value[k], vars); });
    return out;
  }
  return value;
}

function getPath(obj, dotted) {
  return dotted.split('.').reduce(function (acc, key) {
    return acc === undefined || acc === null ? undefined : acc[key];
  }, obj);
}

function isSubset(expected, actual) {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    if (!actual || typeof actual !== 'object') { return false; }
    return Object.keys(expected).every(function (k) { return isSubset(expected[k], actual[k]); });
  }
  return JSON.stringify(canonical(expected)) === JSON.stringify(canonical(actual));
}

function show(value) {
  var text = value === undefined ? 'undefined' : JSON.stringify(canonical(value));
  return text.length > 300 ? text.slice(0, 300) + '…' : text;
}

function delay(ms) {
  return new Promise(function (resolve) { setTimeout(resolve, ms); });
}

function withTimeout(promise, ms, onTimeout) {
  var timer;
  return Promise.race([
    promise,
    new Promise(function (resolve) { timer = setTimeout(function () { resolve(onTimeout()); }, ms); })
  ]).finally(function () { clearTimeout(timer); });
}

// ---------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------
function Runner(args, scenario) {
  this.args = args;
  this.scenario = scenario;
  this.io = loadSailsIo(args.eio, { verbose: args.verbose });
  this.defaults = Object.assign({ timeoutMs: 5000, settleMs: 150 }, scenario.defaults || {});
  this.eventNames = scenario.events || [];
  this.acks = scenario.acks || {};
  this.sockets = {};   // name -> { sails, inbox, pending, connectWaiters }
  this.jars = {};      // name -> { cookieName: value }
  this.vars = {};
  this.records = [];
  this.failures = [];
  this.currentStep = null;
}

Runner.prototype.record = function (rec) {
  var full = Object.assign({ step: this.currentStep.id, kind: rec.kind }, rec);
  this.records.push(full);
};

Runner.prototype.fail = function (message) {
  var text = 'step ' + this.currentStep.id + ': ' + message;
  this.failures.push(text);
  process.stderr.write('FAIL ' + text + '\n');
};

Runner.prototype.socket = function (name) {
  var s = this.sockets[name];
  if (!s) { throw new Error('unknown socket "' + name + '"'); }
  return s;
};

Runner.prototype.jarCookie = function (jarName) {
  var jar = this.jars[jarName] || {};
  var parts = Object.keys(jar).map(function (k) { return k + '=' + jar[k]; });
  return parts.length ? parts.join('; ') : undefined;
};

Runner.prototype.storeSetCookie = function (jarName, setCookie) {
  if (!jarName || !setCookie) { return; }
  var jar = this.jars[jarName] = this.jars[jarName] || {};
  [].concat(setCookie).forEach(function (line) {
    var pair = String(line).split(';')[0];
    var eq = pair.indexOf('=');
    if (eq > 0) { jar[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim(); }
  });
};

/** Bind the recorded server events on the socket's current raw connection. */
Runner.prototype.bindEvents = function (entry) {
  var self = this;
  self.eventNames.forEach(function (eventName) {
    var answer = self.acks[eventName];
    entry.sails.on(eventName, function (payload, ack) {
      entry.inbox.push({ event: eventName, payload: payload === undefined ? null : JSON.parse(JSON.stringify(payload)) });
      // A server event that asks for an ack gets the scenario's answer for that name.
      if (answer && typeof ack === 'function') { ack.apply(null, answer.map(function (a) { return materialize(a, {}); })); }
    });
  });
  entry.connected = new Promise(function (resolve) {
    entry.sails.on('connect', function () { resolve(); });
  });
};

Runner.prototype.waitConnected = function (entry) {
  var self = this;
  return withTimeout(entry.connected.then(function () { return true; }), self.defaults.timeoutMs, function () { return false; });
};

/** Issue a request through sails.io.js; returns a promise of the response record fields. */
Runner.prototype.issue = function (entry, spec) {
  var self = this;
  var method = (spec.method || 'get').toLowerCase();
  var url = materialize(spec.url, self.vars);
  var options = { method: method, url: url };
  if (spec.data !== undefined) { options.data = materialize(spec.data, self.vars); }
  if (spec.headers !== undefined) { options.headers = materialize(spec.headers, self.vars); }
  return new Promise(function (resolve) {
    var done = false;
    entry.sails.request(options, function (body, jwr) {
      // sails.io.js may call a callback twice (see NOTES.md); keep the first.
      if (done) { return; }
      done = true;
      if (body instanceof Error) {
        resolve({ request: method + ' ' + url, error: body.message, statusCode: jwr.statusCode, headers: jwr.headers, body: jwr.body });
        return;
      }
      var pojo = typeof jwr.toPOJO === 'function' ? jwr.toPOJO() : jwr;
      resolve({ request: method + ' ' + url, statusCode: pojo.statusCode, headers: pojo.headers, body: pojo.body });
    });
  });
};

Runner.prototype.awaitResponse = function (promise, spec, requestLabel) {
  var timeoutMs = spec.timeoutMs || this.defaults.timeoutMs;
  return withTimeout(promise, timeoutMs, function () { return { request: requestLabel, noResponse: true }; });
};

Runner.prototype.recordResponse = function (socketName, spec, res) {
  if (res.noResponse) {
    this.record({ kind: 'noResponse', socket: socketName, request: res.request });
    if (!spec.expectNoResponse) { this.fail('no response to ' + res.request); }
    return;
  }
  if (spec.expectNoResponse) { this.fail('expected no response to ' + res.request + ', got status ' + res.statusCode); }
  var rec = { kind: 'response', socket: socketName, request: res.request, statusCode: res.statusCode, headers: res.headers };
  if (res.body !== undefined) { rec.body = res.body; }
  if (res.error !== undefined) { rec.error = res.error; }
  this.record(rec);
  this.checkExpect(spec.expect, res, res.request);
  if (spec.save) {
    var self = this;
    Object.keys(spec.save).forEach(function (name) {
      var value = getPath(res, spec.save[name]);
      if (value === undefined) { self.fail('cannot save ' + name + ' from ' + spec.save[name]); }
      self.vars[name] = value;
    });
  }
};

Runner.prototype.checkExpect = function (expect, res, label) {
  if (!expect) { return; }
  if (expect.statusCode !== undefined && res.statusCode !== expect.statusCode) {
    this.fail(label + ': expected status ' + expect.statusCode + ', got ' + res.statusCode + ' body ' + show(res.body));
  }
  if (Object.prototype.hasOwnProperty.call(expect, 'body') && canonicalJson(expect.body) !== canonicalJson(res.body)) {
    this.fail(label + ': expected body ' + JSON.stringify(expect.body) + ', got ' + show(res.body));
  }
  if (expect.bodySubset !== undefined && !isSubset(materialize(expect.bodySubset, this.vars), res.body)) {
    this.fail(label + ': body ' + show(res.body) + ' does not contain ' + JSON.stringify(expect.bodySubset));
  }
  if (expect.bodyStartsWith !== undefined && !(typeof res.body === 'string' && res.body.indexOf(expect.bodyStartsWith) === 0)) {
    this.fail(label + ': body does not start with ' + JSON.stringify(expect.bodyStartsWith) + ': ' + show(res.body));
  }
  if (expect.headers !== undefined && !isSubset(expect.headers, res.headers)) {
    this.fail(label + ': headers ' + JSON.stringify(res.headers) + ' do not contain ' + JSON.stringify(expect.headers));
  }
  if (expect.noBody === true && res.body !== undefined) {
    this.fail(label + ': expected no body, got ' + show(res.body));
  }
};

Runner.prototype.recordConnected = function (name, entry, ok) {
  if (!ok) {
    this.record({ kind: 'connectFailed', socket: name });
    this.fail('socket ' + name + ' did not connect');
    return;
  }
  entry.generation += 1;
  this.record({ kind: 'connected', socket: name, id: entry.sails._raw.id });
};

// --- ops -------------------------------------------------------------------

Runner.prototype.op_connect = async function (step) {
  var self = this;
  if (self.sockets[step.socket]) { throw new Error('socket "' + step.socket + '" already exists'); }
  var handshakeHeaders = Object.assign({}, step.handshakeHeaders || {});
  if (step.jar) {
    var cookie = self.jarCookie(step.jar);
    if (!cookie) { throw new Error('jar "' + step.jar + '" has no cookie'); }
    handshakeHeaders.cookie = cookie;
  }
  var opts = {};
  if (Object.keys(handshakeHeaders).length) { opts.initialConnectionHeaders = handshakeHeaders; }
  if (step.query !== undefined) { opts.query = step.query; }
  if (step.headers !== undefined) { opts.headers = step.headers; }
  var entry = { sails: self.io.sails.connect(self.args.url, opts), inbox: [], pending: [], generation: 0 };
  self.sockets[step.socket] = entry;
  self.bindEvents(entry);
  // Requests made before the connection is up: sails.io.js queues them.
  var queued = (step.queue || []).map(function (spec) {
    return { spec: spec, promise: self.issue(entry, spec) };
  });
  var ok = await self.waitConnected(entry);
  self.recordConnected(step.socket, entry, ok);
  for (var i = 0; i < queued.length; i++) {
    var label = (queued[i].spec.method || 'get').toLowerCase() + ' ' + materialize(queued[i].spec.url, self.vars);
    self.recordResponse(step.socket, queued[i].spec, await self.awaitResponse(queued[i].promise, queued[i].spec, label));
  }
};

Runner.prototype.op_request = async function (step) {
  var entry = this.socket(step.socket);
  var label = (step.method || 'get').toLowerCase() + ' ' + materialize(step.url, this.vars);
  var res = await this.awaitResponse(this.issue(entry, step), step, label);
  this.recordResponse(step.socket, step, res);
};

Runner.prototype.op_http = async function (step) {
  var self = this;
  var method = (step.method || 'GET').toUpperCase();
  var url = materialize(step.url, self.vars);
  var headers = Object.assign({}, materialize(step.headers || {}, self.vars));
  var payload;
  if (step.body !== undefined) {
    payload = Buffer.from(JSON.stringify(materialize(step.body, self.vars)), 'utf8');
    headers['content-type'] = headers['content-type'] || 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (step.jar) {
    var cookie = self.jarCookie(step.jar);
    if (cookie) { headers.cookie = cookie; }
  }
  var target = new URL(url, self.args.url + '/');
  var res = await new Promise(function (resolve, reject) {
    var req = http.request({
      hostname: target.hostname, port: target.port, path: target.pathname + target.search,
      method: method, headers: headers, agent: false
    }, function (response) {
      var chunks = [];
      response.on('data', function (c) { chunks.push(c); });
      response.on('end', function () { resolve({ response: response, text: Buffer.concat(chunks).toString('utf8') }); });
      response.on('error', reject);
    });
    req.setTimeout(step.timeoutMs || self.defaults.timeoutMs, function () { req.destroy(new Error('HTTP timeout')); });
    req.on('error', reject);
    if (payload) { req.write(payload); }
    req.end();
  });
  var contentType = res.response.headers['content-type'] || null;
  var body = res.text;
  if (contentType && /json/i.test(contentType)) {
    try { body = JSON.parse(res.text); } catch (e) { body = res.text; }
  }
  var setCookie = res.response.headers['set-cookie'];
  self.storeSetCookie(step.jar, setCookie);
  var rec = {
    kind: 'http', request: method + ' ' + url, statusCode: res.response.statusCode,
    headers: { 'content-type': contentType, location: res.response.headers.location || null, 'set-cookie': setCookie || null },
    body: body
  };
  self.record(rec);
  self.checkExpect(step.expect, rec, rec.request);
};

Runner.prototype.op_expectEvents = async function (step) {
  var self = this;
  var timeoutMs = step.timeoutMs || self.defaults.timeoutMs;
  var settleMs = step.settleMs !== undefined ? step.settleMs : self.defaults.settleMs;
  var names = Object.keys(step.counts).sort();
  var count = function (name) {
    return self.socket(name).inbox.filter(function (e) { return e.event === step.event; }).length;
  };
  var deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !names.every(function (n) { return count(n) >= step.counts[n]; })) {
    await delay(5);
  }
  await delay(settleMs);
  names.forEach(function (name) {
    var entry = self.socket(name);
    var mine = entry.inbox.filter(function (e) { return e.event === step.event; });
    entry.inbox = entry.inbox.filter(function (e) { return e.event !== step.event; });
    var payloads = mine.map(function (e) { return canonical(e.payload); })
      .sort(function (a, b) { var x = JSON.stringify(a), y = JSON.stringify(b); return x < y ? -1 : x > y ? 1 : 0; });
    self.record({ kind: 'events', socket: name, event: step.event, payloads: payloads });
    if (payloads.length !== step.counts[name]) {
      self.fail('socket ' + name + ': expected ' + step.counts[name] + ' "' + step.event + '" events, got ' + payloads.length);
    }
    if (step.payload !== undefined) {
      var want = materialize(step.payload, self.vars);
      payloads.forEach(function (p) {
        if (!isSubset(want, p)) { self.fail('socket ' + name + ': event payload ' + show(p) + ' does not contain ' + JSON.stringify(want)); }
      });
    }
  });
};

Runner.prototype.disconnectEntry = function (entry) {
  return new Promise(function (resolve) {
    if (!entry.sails.isConnected()) { resolve(false); return; }
    entry.sails._raw.once('disconnect', function () { resolve(true); });
    entry.sails.disconnect();
  });
};

Runner.prototype.op_disconnect = async function (step) {
  var entry = this.socket(step.socket);
  var wasConnected = await this.disconnectEntry(entry);
  if (!wasConnected) { this.fail('socket ' + step.socket + ' was not connected'); }
  this.record({ kind: 'disconnected', socket: step.socket, connected: entry.sails.isConnected() });
};

Runner.prototype.op_queueWhileDisconnected = async function (step) {
  var self = this;
  var entry = self.socket(step.socket);
  if (entry.sails.isConnected()) { self.fail('socket ' + step.socket + ' is connected; requests would not be queued'); }
  step.requests.forEach(function (spec) {
    entry.pending.push({ spec: spec, promise: self.issue(entry, spec) });
  });
  self.record({ kind: 'queued', socket: step.socket, count: step.requests.length });
};

Runner.prototype.op_reconnect = async function (step) {
  var self = this;
  var entry = self.socket(step.socket);
  entry.sails.reconnect();
  // .reconnect() makes a new raw socket; listeners bound after the first
  // connect lived on the old one, so bind them again.
  self.bindEvents(entry);
  var ok = await self.waitConnected(entry);
  self.recordConnected(step.socket, entry, ok);
  var pending = entry.pending;
  entry.pending = [];
  for (var i = 0; i < pending.length; i++) {
    var label = (pending[i].spec.method || 'get').toLowerCase() + ' ' + materialize(pending[i].spec.url, self.vars);
    self.recordResponse(step.socket, pending[i].spec, await self.awaitResponse(pending[i].promise, pending[i].spec, label));
  }
};

Runner.prototype.closeSocket = async function (name) {
  var entry = this.socket(name);
  await this.disconnectEntry(entry);
  var leftovers = entry.inbox.map(function (e) { return canonical({ event: e.event, payload: e.payload }); })
    .sort(function (a, b) { var x = JSON.stringify(a), y = JSON.stringify(b); return x < y ? -1 : x > y ? 1 : 0; });
  this.record({ kind: 'closed', socket: name, unclaimedEvents: leftovers });
  if (leftovers.length) { this.fail('socket ' + name + ' closed with ' + leftovers.length + ' unclaimed event(s)'); }
  delete this.sockets[name];
};

Runner.prototype.op_close = async function (step) {
  await this.closeSocket(step.socket);
};

Runner.prototype.run = async function () {
  var steps = this.scenario.steps;
  var seen = {};
  for (var i = 0; i < steps.length; i++) {
    var step = steps[i];
    if (!step.id || seen[step.id]) { throw new Error('step ' + i + ' has a missing or duplicate id: ' + step.id); }
    seen[step.id] = true;
    this.currentStep = step;
    var fn = this['op_' + step.op];
    if (typeof fn !== 'function') { throw new Error('step ' + step.id + ': unknown op "' + step.op + '"'); }
    var started = Date.now();
    try {
      await fn.call(this, step);
    } catch (err) {
      this.record({ kind: 'stepError', message: String(err && err.message || err) });
      this.fail('threw ' + (err && err.stack || err));
    }
    if (this.args.verbose) { process.stderr.write(step.id + ' ' + (Date.now() - started) + 'ms\n'); }
  }
  this.currentStep = { id: '(end)' };
  var names = Object.keys(this.sockets).sort();
  for (var j = 0; j < names.length; j++) {
    await this.closeSocket(names[j]);
  }
};

async function main() {
  var args = parseArgs(process.argv.slice(2));
  var scenario = JSON.parse(fs.readFileSync(args.scenario, 'utf8'));
  var runner = new Runner(args, scenario);
  var started = Date.now();
  await runner.run();
  var lines = runner.records.map(function (r) { return canonicalJson(r); });
  fs.writeFileSync(args.out, lines.join('\n') + '\n');
  process.stderr.write(util.format('%s (EIO=%s): %d steps, %d transcript lines, %d failure(s), %d ms\n',
    scenario.name, args.eio, scenario.steps.length, lines.length, runner.failures.length, Date.now() - started));
  // Pending no-response requests keep nothing open once sockets are closed, but be explicit.
  process.exit(runner.failures.length ? 1 : 0);
}

main().catch(function (err) {
  process.stderr.write('run-scenario: ' + (err && err.stack || err) + '\n');
  process.exit(2);
});
