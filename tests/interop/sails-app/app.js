#!/usr/bin/env node
/**
 * Lifts the conformance Sails app programmatically.
 *
 *   node app.js [--port N]        (or PORT=N; default 0 = pick a free port)
 *
 * stdout gets exactly one line once the server accepts connections:
 *   listening on http://127.0.0.1:<port>
 * Everything else (Sails logs, console.log from dependencies) goes to stderr.
 * Log level: SAILS_LOG_LEVEL (default 'warn').
 * SIGTERM / SIGINT lower Sails and exit 0.
 */
'use strict';

var util = require('util');

// Keep stdout for the single "listening" line: anything that writes with
// console.log/info (Sails banners, SDK-ish messages from dependencies) goes to stderr.
var toStderr = function () {
  process.stderr.write(util.format.apply(util, arguments) + '\n');
};
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

function parsePort() {
  var argv = process.argv.slice(2);
  var raw;
  for (var i = 0; i < argv.length; i++) {
    if (argv[i] === '--port' && i + 1 < argv.length) {
      raw = argv[i + 1];
    } else if (argv[i].indexOf('--port=') === 0) {
      raw = argv[i].slice('--port='.length);
    }
  }
  if (raw === undefined) {
    raw = process.env.PORT !== undefined && process.env.PORT !== '' ? process.env.PORT : '0';
  }
  var port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('invalid port: ' + raw + '\n');
    process.exit(2);
  }
  return port;
}

var wantedPort = parsePort();

// `.sailsrc` is only read by the `sails` CLI, not by a programmatic lift:
// apply it here so both ways of starting the app agree (hooks off: grunt, views, i18n).
var sailsrc = JSON.parse(require('fs').readFileSync(require('path').join(__dirname, '.sailsrc'), 'utf8'));
var Sails = require('sails').constructor;
var sails = new Sails();

var stderrLogger = {
  log: toStderr,
  debug: toStderr,
  info: toStderr,
  warn: toStderr,
  error: toStderr,
  crit: toStderr,
  verbose: toStderr,
  silly: toStderr,
  blank: toStderr
};

sails.lift({
  appPath: __dirname,
  environment: 'development',
  // Sails turns a falsy `port` override into its default 1337, so the real
  // port (possibly 0 = "any free port") is put in place by the bootstrap,
  // which runs after configuration and before the HTTP server starts.
  port: wantedPort || 1337,
  explicitHost: '127.0.0.1',
  hooks: sailsrc.hooks,
  bootstrap: function (done) {
    sails.config.port = wantedPort;
    return done();
  },
  log: {
    level: process.env.SAILS_LOG_LEVEL || 'warn',
    custom: stderrLogger,
    inspect: false
  }
}, function (err) {
  if (err) {
    process.stderr.write('failed to lift Sails: ' + (err && err.stack || err) + '\n');
    process.exit(1);
  }
  var address = sails.hooks.http.server.address();
  sails.log.verbose('hooks loaded: ' + Object.keys(sails.hooks).sort().join(', '));
  process.stdout.write('listening on http://127.0.0.1:' + address.port + '\n');
});

var stopping = false;
function stop(signal) {
  if (stopping) {
    return;
  }
  stopping = true;
  process.stderr.write('received ' + signal + ', lowering Sails\n');
  // Do not wait forever for keep-alive HTTP connections or sockets.
  var force = setTimeout(function () { process.exit(0); }, 3000);
  force.unref();
  sails.lower(function (err) {
    if (err) {
      process.stderr.write('error while lowering: ' + (err.stack || err) + '\n');
      process.exit(1);
    }
    process.exit(0);
  });
}
process.on('SIGTERM', function () { stop('SIGTERM'); });
process.on('SIGINT', function () { stop('SIGINT'); });
