'use strict';
/**
 * Turns the JSON lines of one tests/bench/run.sh run into Markdown tables (stdout).
 *
 *   node report.js RESULTS.jsonl
 *
 * Lines are grouped by (bench, client, server); each figure is reported as the median over the repeats,
 * with [min–max] where there was more than one repeat. Ratios are taken between medians of the same run.
 */
var fs = require('fs');

var lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map(function (l) { return JSON.parse(l); });
var meta = lines.filter(function (l) { return l.bench === 'meta'; })[0] || {};

function group(bench, client, server) {
  return lines.filter(function (l) {
    return l.bench === bench && (client === undefined || l.client === client) && (server === undefined || l.server === server);
  });
}
function median(xs) {
  var s = xs.slice().sort(function (a, b) { return a - b; });
  if (!s.length) { return NaN; }
  var m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function vals(rows, key) {
  return rows.map(function (r) { return r[key]; }).filter(function (v) { return typeof v === 'number' && isFinite(v); });
}
function med(rows, key) { return median(vals(rows, key)); }
function fmt(x, digits) {
  if (typeof x !== 'number' || !isFinite(x)) { return 'n/a'; }
  var d = digits === undefined ? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2) : digits;
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}
/** "median [min–max]" over the repeats. */
function spread(rows, key, scale, digits) {
  scale = scale || 1;
  var v = vals(rows, key).map(function (x) { return x * scale; });
  if (!v.length) { return 'n/a'; }
  var m = fmt(median(v), digits);
  if (v.length === 1) { return m; }
  return m + ' [' + fmt(Math.min.apply(null, v), digits) + '–' + fmt(Math.max.apply(null, v), digits) + ']';
}
function ratio(a, b) { return isFinite(a) && isFinite(b) && b !== 0 ? a / b : NaN; }
function rx(x) { return isFinite(x) ? fmt(x, 2) + '×' : 'n/a'; }
function verdict(ok) { return ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**'; }

var out = [];
function p(s) { out.push(s === undefined ? '' : s); }
function table(head, rows) {
  p('| ' + head.join(' | ') + ' |');
  p('|' + head.map(function () { return '---'; }).join('|') + '|');
  rows.forEach(function (r) { p('| ' + r.join(' | ') + ' |'); });
  p();
}
var targets = [];
function serverLabel(server) {
  return { stub: 'server-stub', sails: 'real Sails 1.5', instant: 'scripted instant server' }[server] || server;
}

// ---- 1. sequential round trip ---------------------------------------------------------------
var floor = group('rt', 'raw-ws');
var floorP50 = med(floor, 'p50_us');
p('### 1. Request round trip, one socket, sequential (`GET /hello`)');
p();
p('Latencies in µs, throughput in requests/s; median over ' + (meta.repeats || '?') + ' repeats [min–max]. ' +
  'Ratios: p50 of the row / p50 of the peer in the same run. The server-stub runs on ' +
  (meta.stub_threads === 1 ? 'one thread (`sails-io-stub`\'s default, `--threads 1`)' :
    meta.stub_threads === 0 ? 'one worker thread per core (`--threads 0`)' :
      meta.stub_threads > 1 ? meta.stub_threads + ' worker threads (`--threads ' + meta.stub_threads + '`)' :
        'tokio\'s multi-thread runtime (runs before `--threads` existed)') + '.' +
  (meta.cpuidle ? ' Idle vCPUs: cpuidle governor ' + meta.cpuidle + '.' : ''));
p();
var rtRows = [];
rtRows.push(['raw tokio-tungstenite echo (floor)', 'echo server', spread(floor, 'p50_us'), spread(floor, 'p99_us'), spread(floor, 'rps'), '1.00×', '—']);
// The floor with 4 KiB read buffers at both ends (tungstenite zeroes its read buffer, 128 KiB by default, up
// to its size before each read): not the floor, shown so the 1a ratio can be read against it too.
var floor4k = group('rt', 'raw-ws-small-buffers');
var floor4kP50 = med(floor4k, 'p50_us');
if (floor4k.length) {
  rtRows.push(['raw tokio-tungstenite echo, 4 KiB read buffers', 'echo server (4 KiB)', spread(floor4k, 'p50_us'),
    spread(floor4k, 'p99_us'), spread(floor4k, 'rps'), rx(ratio(floor4kP50, floorP50)), '—']);
}
var rtClientLabel = {
  rust: 'sails-io (native, ours)',
  'rust-ct': 'sails-io (native, ours), current-thread runtime',
  'rust-blockon': 'sails-io (native, ours), called from `block_on`',
  wasm: 'sails-io-wasm in node (ours)',
  'sails.io.js': 'sails.io.js 1.2.1 (node)',
  'raw-sio': 'raw tokio-tungstenite, minimal EIO 3 (the ceiling)',
};
var instant = group('rt', 'rust', 'instant');
['rust', 'rust-ct', 'rust-blockon', 'raw-sio'].forEach(function (client) {
  var g = group('rt', client, 'instant');
  if (!g.length) { return; }
  rtRows.push([rtClientLabel[client], 'scripted instant server', spread(g, 'p50_us'), spread(g, 'p99_us'), spread(g, 'rps'),
    rx(ratio(med(g, 'p50_us'), floorP50)), '—']);
});
['stub', 'sails'].forEach(function (server) {
  var js = med(group('rt', 'sails.io.js', server), 'p50_us');
  ['rust', 'rust-ct', 'rust-blockon', 'sails.io.js', 'wasm', 'raw-sio'].forEach(function (client) {
    var g = group('rt', client, server);
    if (!g.length) { return; }
    var m = med(g, 'p50_us');
    rtRows.push([rtClientLabel[client], serverLabel(server), spread(g, 'p50_us'), spread(g, 'p99_us'), spread(g, 'rps'),
      rx(ratio(m, floorP50)), client === 'sails.io.js' ? '1.00×' : rx(ratio(m, js))]);
  });
});
table(['client', 'server', 'p50 µs', 'p99 µs', 'req/s', 'p50 / floor', 'p50 / sails.io.js'], rtRows);
var oursStub = med(group('rt', 'rust', 'stub'), 'p50_us');
var oursSails = med(group('rt', 'rust', 'sails'), 'p50_us');
var jsSails = med(group('rt', 'sails.io.js', 'sails'), 'p50_us');
var t1a = ratio(oursStub, floorP50);
var t1b = ratio(oursSails, jsSails);
targets.push(['1a. native p50 within 1.5× of the raw floor (stub)', rx(t1a), verdict(isFinite(t1a) ? t1a <= 1.5 : undefined)]);
if (floor4k.length) {
  var t1a4k = ratio(oursStub, floor4kP50);
  targets.push(['1a against the floor with 4 KiB read buffers (native p50, stub)', rx(t1a4k),
    (isFinite(t1a4k) && t1a4k <= 1.5 ? 'within 1.5×' : 'above 1.5×') + ' (not the issue\'s floor: its echo and client zero 128 KiB before each read)']);
}
if (instant.length) {
  var t1aClient = ratio(med(instant, 'p50_us'), floorP50);
  targets.push(['1a, the client alone: native p50 against the scripted instant server / the floor', rx(t1aClient),
    (isFinite(t1aClient) && t1aClient <= 1.5 ? 'within 1.5×' : 'above 1.5×') + ' (not a target of the issue: it shows how much of 1a is the client)']);
}
// The same target for a variant of the native client (another runtime, another caller), if measured.
function variantTarget(label, client, server, peerP50, limit) {
  var p50 = med(group('rt', client, server), 'p50_us');
  if (!isFinite(p50)) { return; }
  var r = ratio(p50, peerP50);
  targets.push([label, rx(r), verdict(r <= limit)]);
}
variantTarget('1a on a current-thread runtime: native p50 (stub) / the floor', 'rust-ct', 'stub', floorP50, 1.5);
variantTarget('1a called from `block_on`: native p50 (stub) / the floor', 'rust-blockon', 'stub', floorP50, 1.5);
targets.push(['1b. native p50 at most 0.3× sails.io.js (real Sails)', rx(t1b), verdict(isFinite(t1b) ? t1b <= 0.3 : undefined)]);
variantTarget('1b on a current-thread runtime: native p50 / sails.io.js p50 (real Sails)', 'rust-ct', 'sails', jsSails, 0.3);
variantTarget('1b called from `block_on`: native p50 / sails.io.js p50 (real Sails)', 'rust-blockon', 'sails', jsSails, 0.3);
// What the ceiling client (`rt-raw`) gets: the least any client could read on these two lines in this run.
var rawStub = ratio(med(group('rt', 'raw-sio', 'stub'), 'p50_us'), floorP50);
if (isFinite(rawStub)) {
  targets.push(['1a, the least any client could reach: the ceiling\'s p50 (stub) / the floor', rx(rawStub),
    (rawStub <= 1.5 ? 'within 1.5×' : 'above 1.5×: the stub alone is over the line') + ' (not a target)']);
}
var rawSails = ratio(med(group('rt', 'raw-sio', 'sails'), 'p50_us'), jsSails);
if (isFinite(rawSails)) {
  targets.push(['1b, the least any client could reach: the ceiling\'s p50 / sails.io.js p50 (real Sails)', rx(rawSails),
    (rawSails <= 0.3 ? 'within 0.3×' : 'above 0.3×: no client meets 1b against this Sails process') + ' (not a target)']);
}

// ---- 2. pipelined -------------------------------------------------------------------------
p('### 2. Pipelined throughput, one socket, ' + (Math.max.apply(null, vals(group('pipe'), 'inflight').concat([0])) || 500) + ' requests in flight');
p();
var pipeRows = [];
function inflightOf(rows, k) { return rows.filter(function (r) { return r.inflight === k; }); }
var mainInflight = Math.max.apply(null, vals(group('pipe'), 'inflight').concat([0])) || 500;
var pipeKinds = [['stub', mainInflight], ['sails', mainInflight]];
if (group('pipe', 'rust', 'instant').length) { pipeKinds.push(['instant', mainInflight]); }
vals(group('pipe', 'rust', 'stub'), 'inflight').forEach(function (k) {
  if (k !== mainInflight && !pipeKinds.some(function (x) { return x[0] === 'stub' && x[1] === k; })) { pipeKinds.push(['stub', k]); }
});
function pipeGroup(client, server, k) { return inflightOf(group('pipe', client, server), k); }
pipeKinds.forEach(function (kind) {
  var server = kind[0];
  var k = kind[1];
  var js = med(pipeGroup('sails.io.js', server, k), 'rps');
  ['rust', 'sails.io.js', 'raw-sio'].forEach(function (client) {
    var g = pipeGroup(client, server, k);
    if (!g.length) { return; }
    pipeRows.push([rtClientLabel[client], serverLabel(server) + ', ' + k + ' in flight',
      spread(g, 'rps'), spread(g, 'p50_us', 1e-3, 1), spread(g, 'p99_us', 1e-3, 1), fmt(vals(g, 'lost').reduce(function (a, b) { return a + b; }, 0), 0) + ' / ' + fmt(vals(g, 'n').reduce(function (a, b) { return a + b; }, 0) + vals(g, 'lost').reduce(function (a, b) { return a + b; }, 0), 0),
      client === 'sails.io.js' ? '1.00×' : rx(ratio(med(g, 'rps'), js))]);
  });
});
table(['client', 'server, window', 'req/s', 'p50 ms', 'p99 ms', 'lost / sent', 'req/s / sails.io.js'], pipeRows);
p('req/s = responses / time from the first request to the last response; a response not received after 5 s of waiting counts as lost.');
p('The ceiling rows (`sails-bench pipe-raw` here, `rt-raw` in table 1) send pre-formatted request frames and match the answers by ack id without parsing them: a client can hardly do less per request, so their figures are about what the server gives one socket, and their ratios about the best any client could reach against that server.');
p();
pipeKinds.forEach(function (kind) {
  var js = med(pipeGroup('sails.io.js', kind[0], kind[1]), 'rps');
  var r = ratio(med(pipeGroup('rust', kind[0], kind[1]), 'rps'), js);
  targets.push(['2. pipelined throughput at least 3× sails.io.js (' + serverLabel(kind[0]) + ', ' + kind[1] + ' in flight)', rx(r), verdict(isFinite(r) ? r >= 3 : undefined)]);
  var ceiling = ratio(med(pipeGroup('raw-sio', kind[0], kind[1]), 'rps'), js);
  if (isFinite(ceiling)) {
    targets.push(['2, the most any client could reach: the ceiling / sails.io.js (' + serverLabel(kind[0]) + ', ' + kind[1] + ' in flight)', rx(ceiling),
      ceiling >= 3 ? 'within reach (not a target)' : 'below 3×: 3× is out of reach for any client on this server (not a target)']);
  }
});

// ---- 3. many sockets ----------------------------------------------------------------------
var many = group('many', 'rust', 'stub');
p('### 3. Many sockets in one client process (native client → server-stub)');
p();
if (many.length) {
  table(['sockets asked', 'connected', 'failed', 'connect all (s)', 'connects/s', 'connect p50 ms', 'connect p99 ms', 'client RSS / socket (KiB)', 'stub RSS / socket (KiB)'],
    [[fmt(med(many, 'n'), 0), spread(many, 'connected', 1, 0), spread(many, 'failed', 1, 0), spread(many, 'connect_all_ms', 1e-3, 2), spread(many, 'connects_per_s', 1, 0),
      spread(many, 'connect_p50_us', 1e-3, 1), spread(many, 'connect_p99_us', 1e-3, 1), spread(many, 'client_bytes_per_socket', 1 / 1024, 1), spread(many, 'server_bytes_per_socket', 1 / 1024, 1)]]);
  var raws = [['raw tokio-tungstenite, default config (128 KiB read buffer)', group('many', 'raw-ws')], ['raw tokio-tungstenite, read_buffer_size 4 KiB', group('many', 'raw-ws-small-buffers')]];
  if (raws.some(function (x) { return x[1].length; })) {
    p('The floor: the same number of raw tokio-tungstenite connections (one reading task each) to the echo server, in one process.');
    p();
    table(['connections', 'connected', 'connect all (s)', 'client RSS / connection (KiB)', 'sails-io / this'], raws.filter(function (x) { return x[1].length; }).map(function (x) {
      return [x[0], spread(x[1], 'connected', 1, 0), spread(x[1], 'connect_all_ms', 1e-3, 2), spread(x[1], 'client_bytes_per_socket', 1 / 1024, 1),
        rx(ratio(med(many, 'client_bytes_per_socket'), med(x[1], 'client_bytes_per_socket')))];
    }));
  }
  var errs = many.map(function (m) { return JSON.stringify(m.errors); }).filter(function (e) { return e !== '{}'; });
  if (errs.length) { p('Connect errors: ' + errs.join('; ')); p(); }
  var perSocket = med(many, 'client_bytes_per_socket');
  targets.push(['3. at most 20 KiB client memory per socket at ' + fmt(med(many, 'connected'), 0) + ' sockets', fmt(perSocket / 1024, 1) + ' KiB', verdict(isFinite(perSocket) ? perSocket <= 20 * 1024 : undefined)]);
} else {
  p('Not measured in this run.');
  p();
}

// ---- 4. stub vs real Sails ----------------------------------------------------------------
p('### 4. Server-stub vs real Sails (same native client)');
p();
var bRows = [];
var bStub = group('broadcast', 'rust', 'stub');
var bSails = group('broadcast', 'rust', 'sails');
[['server-stub', bStub], ['real Sails 1.5', bSails]].forEach(function (x) {
  var g = x[1];
  if (!g.length) { return; }
  var all = [];
  g.forEach(function (r) { all = all.concat(r.last_ms || []); });
  all.sort(function (a, b) { return a - b; });
  var pc = function (q) { return all.length ? all[Math.min(Math.max(Math.ceil(q / 100 * all.length), 1), all.length) - 1] : NaN; };
  bRows.push([x[0], fmt(med(g, 'connected'), 0), spread(g, 'connect_all_ms', 1e-3, 2), fmt(all.length, 0), fmt(pc(50), 1), fmt(pc(99), 1), fmt(all[0], 1) + '–' + fmt(all[all.length - 1], 1),
    fmt(g.reduce(function (a, r) { return a + (r.incomplete || []).length; }, 0), 0), spread(g, 'server_bytes_per_socket', 1 / 1024, 1)]);
});
p('Broadcast: N sockets connected, one `POST /blast` from another socket (`sails.sockets.blast`), time from the post until the last of the N has the event; percentiles over all rounds of all repeats.');
p();
table(['server', 'sockets', 'connect all (s)', 'broadcasts', 'p50 ms', 'p99 ms', 'min–max ms', 'incomplete', 'server RSS / socket (KiB)'], bRows);
var bs = ratio(median([].concat.apply([], bStub.map(function (r) { return r.last_ms || []; }))), median([].concat.apply([], bSails.map(function (r) { return r.last_ms || []; }))));
if (isFinite(bs)) { p('Stub p50 / real Sails p50: ' + rx(bs) + '.'); p(); }
var rStub = group('rps', 'rust', 'stub');
var rSails = group('rps', 'rust', 'sails');
p('Requests/s served: ' + (med(rStub.concat(rSails), 'sockets') || 100) + ' sockets each issuing sequential `GET /hello` for a fixed time.');
p();
table(['server', 'req/s', 'p50 ms', 'p99 ms', 'failed', 'req/s / real Sails'], [['server-stub', rStub], ['real Sails 1.5', rSails]].filter(function (x) { return x[1].length; }).map(function (x) {
  return [x[0], spread(x[1], 'rps'), spread(x[1], 'p50_us', 1e-3, 1), spread(x[1], 'p99_us', 1e-3, 1), fmt(vals(x[1], 'failed').reduce(function (a, b) { return a + b; }, 0), 0),
    rx(ratio(med(x[1], 'rps'), med(rSails, 'rps')))];
}));

// ---- 5. npm package -----------------------------------------------------------------------
p('### 5. The npm package');
p();
var sizes = group('size');
if (sizes.length) {
  var js = sizes.filter(function (s) { return s.peer; })[0];
  table(['artifact', 'files', 'raw bytes', 'gzip -9 bytes', 'gzip / sails.io.js dist'], sizes.map(function (s) {
    return [s.client, s.files, fmt(s.raw_bytes, 0), fmt(s.gzip_bytes, 0), js ? rx(s.gzip_bytes / js.gzip_bytes) : 'n/a'];
  }));
}
var wasmRt = group('rt', 'wasm');
if (!wasmRt.length) { p('wasm-in-node round trip: not measured in this run (' + (meta.wasm_note || 'wasm/pkg missing') + ').'); p(); } else {
  p('wasm-in-node round trip: the sails-io-wasm rows of table 1.'); p();
}

p('### Targets');
p();
table(['target', 'measured', 'verdict'], targets);

process.stdout.write(out.join('\n') + '\n');
