'use strict';
/**
 * The node side of tests/bench/run.sh: the real sails.io.js 1.2.1 (over socket.io-client 2.0.3, EIO 3,
 * loaded by tests/interop/clients/sdk.js) or the sails-io-wasm package (wasm/pkg), measured the same way as
 * `sails-bench` measures the native client.
 *
 *   node sailsio.js rt   --url http://127.0.0.1:PORT [--n 2000] [--warmup 200] [--server NAME] [--client sails.io.js|wasm]
 *                        [--pkg DIR]   (the sails-io-wasm package for --client wasm; default wasm/pkg)
 *   node sailsio.js pipe --url http://127.0.0.1:PORT [--n 20000] [--inflight 500] [--server NAME] [--client …]
 *
 * rt: sequential `GET /hello` on one socket; pipe: `GET /hello` with `inflight` requests outstanding.
 * Prints one JSON line of figures (same fields as sails-bench).
 */
var path = require('path');

function parseArgs(argv) {
  var out = { mode: argv[0] };
  for (var i = 1; i < argv.length; i += 2) {
    if (argv[i].indexOf('--') !== 0 || i + 1 >= argv.length) { throw new Error('bad argument ' + argv[i]); }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

var args = parseArgs(process.argv.slice(2));
var clientName = args.client || 'sails.io.js';
var repo = path.resolve(__dirname, '..', '..');

function loadIo() {
  if (clientName === 'sails.io.js') {
    return require(path.join(repo, 'tests/interop/clients/sdk.js')).loadSailsIo(3);
  }
  if (clientName === 'wasm') {
    // node 20 has no global WebSocket: hand it the `ws` package the interop clients install.
    var WebSocketImpl = typeof WebSocket !== 'undefined' ? WebSocket : require(path.join(repo, 'tests/interop/clients/node_modules/ws'));
    var io = require(args.pkg ? path.resolve(args.pkg) : path.join(repo, 'wasm/pkg'))(WebSocketImpl);
    if (io.sails) { io.sails.autoConnect = false; io.sails.environment = 'production'; }
    return io;
  }
  throw new Error('unknown --client ' + clientName);
}

function pct(sorted, p) {
  if (!sorted.length) { return NaN; }
  var rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}
function round1(x) { return Math.round(x * 10) / 10; }
function nowUs() { var t = process.hrtime(); return t[0] * 1e6 + t[1] / 1e3; }

function latency(samples, elapsedUs) {
  samples.sort(function (a, b) { return a - b; });
  return {
    n: samples.length,
    p50_us: round1(pct(samples, 50)),
    p99_us: round1(pct(samples, 99)),
    max_us: round1(pct(samples, 100)),
    rps: round1(samples.length / (elapsedUs / 1e6))
  };
}

function emit(bench, figures) {
  figures.bench = bench;
  figures.client = clientName;
  figures.server = args.server || '?';
  process.stdout.write(JSON.stringify(figures) + '\n');
}

function get(socket, url) {
  return new Promise(function (resolve) {
    socket.get(url, function (body, jwr) { resolve(jwr); });
  });
}

function connect(io, url) {
  return new Promise(function (resolve, reject) {
    var socket = io.sails.connect(url, { transports: ['websocket'], reconnection: false });
    var timer = setTimeout(function () { reject(new Error('connect timeout')); }, 20000);
    socket.on('connect', function () { clearTimeout(timer); resolve(socket); });
  });
}

async function rt(io) {
  var n = Number(args.n || 2000);
  var warmup = Number(args.warmup || 200);
  var socket = await connect(io, args.url);
  var samples = [];
  var started = nowUs();
  for (var i = 0; i < warmup + n; i++) {
    if (i === warmup) { started = nowUs(); }
    var t = nowUs();
    var jwr = await get(socket, '/hello');
    if (jwr.statusCode !== 200) { throw new Error('GET /hello: ' + jwr.statusCode); }
    if (i >= warmup) { samples.push(nowUs() - t); }
  }
  var elapsed = nowUs() - started;
  socket.disconnect();
  emit('rt', latency(samples, elapsed));
}

async function pipe(io) {
  var n = Number(args.n || 20000);
  var inflight = Number(args.inflight || 500);
  var lostAfterMs = Number(args['lost-after'] || 5) * 1000;
  var socket = await connect(io, args.url);
  var warm = [];
  for (var w = 0; w < Math.min(inflight, 100); w++) { warm.push(get(socket, '/hello')); }
  await Promise.all(warm);
  var samples = [];
  var errors = 0;
  var started = nowUs();
  var lastOk = started;
  var done = 0;
  await new Promise(function (resolve) {
    var sent = 0;
    var finished = false;
    // sails.io.js has no request timeout: a response that has not come after lostAfterMs of silence is lost.
    var lastProgress = Date.now();
    var watchdog = setInterval(function () {
      if (Date.now() - lastProgress > lostAfterMs) { finish(); }
    }, 250);
    function finish() { if (!finished) { finished = true; clearInterval(watchdog); resolve(); } }
    function one() {
      var t = nowUs();
      sent++;
      socket.get('/hello', function (body, jwr) {
        if (finished) { return; }
        lastProgress = Date.now();
        if (jwr && jwr.statusCode === 200) { samples.push(nowUs() - t); lastOk = nowUs(); } else { errors++; }
        done++;
        if (sent < n) { one(); } else if (done === n) { finish(); }
      });
    }
    for (var i = 0; i < Math.min(inflight, n); i++) { one(); }
  });
  socket.disconnect();
  var out = latency(samples, lastOk - started);
  out.inflight = inflight;
  out.lost = n - done;
  out.errors = errors;
  emit('pipe', out);
}

(async function main() {
  var io = loadIo();
  if (args.mode === 'rt') { await rt(io); } else if (args.mode === 'pipe') { await pipe(io); } else {
    throw new Error('mode: rt or pipe');
  }
  // socket.io-client may keep timers alive after disconnect.
  setTimeout(function () { process.exit(0); }, 50);
})().catch(function (e) {
  process.stderr.write('sailsio.js: ' + (e && e.stack || e) + '\n');
  process.exit(1);
});
