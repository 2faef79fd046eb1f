'use strict';
/**
 * Test helper: the server to talk to. Uses $INTEROP_SERVER_URL when set
 * (e.g. a running server-stub or Sails app); otherwise lifts the real Sails
 * app from ../../sails-app on a free port and stops it by PID afterwards.
 */
var childProcess = require('child_process');
var path = require('path');
var fs = require('fs');

var APP_DIR = path.join(__dirname, '..', '..', 'sails-app');

function startServer() {
  if (process.env.INTEROP_SERVER_URL) {
    return Promise.resolve({ url: process.env.INTEROP_SERVER_URL.replace(/\/+$/, ''), stop: function () { return Promise.resolve(); } });
  }
  if (!fs.existsSync(path.join(APP_DIR, 'node_modules', 'sails'))) {
    return Promise.reject(new Error('the Sails app has no node_modules: run tests/interop/ensure-deps.sh tests/interop/sails-app (or set INTEROP_SERVER_URL)'));
  }
  return new Promise(function (resolve, reject) {
    var child = childProcess.spawn(process.execPath, [path.join(APP_DIR, 'app.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    var out = '';
    var err = '';
    var timer = setTimeout(function () { child.kill('SIGKILL'); reject(new Error('Sails app did not start in 30 s: ' + err)); }, 30000);
    child.stderr.on('data', function (d) { err += d; });
    child.stdout.on('data', function (d) {
      out += d;
      var m = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stop: function () {
            return new Promise(function (done) {
              child.once('exit', function () { done(); });
              child.kill('SIGTERM');
            });
          }
        });
      }
    });
    child.on('exit', function (code) { clearTimeout(timer); reject(new Error('Sails app exited (' + code + '): ' + err)); });
  });
}

module.exports = { startServer: startServer };
