'use strict';
/**
 * Loads a fresh copy of the real sails.io.js 1.2.1 over the socket.io client
 * that speaks the requested Engine.IO version:
 *   eio 3 -> socket.io-client 2.0.3 (the client sails.io.js bundles and is tested with)
 *   eio 4 -> socket.io-client 4.8.1 through eio4-adapter.js
 * The eager `io.socket` is disabled (autoConnect false); sockets are made with
 * `io.sails.connect(url, options)`.
 */
var path = require('path');
var adaptIo = require('./eio4-adapter').adaptIo;

function freshRequire(id) {
  var resolved = require.resolve(id);
  delete require.cache[resolved];
  return require(resolved);
}

function loadSailsIo(eio, options) {
  options = options || {};
  var socketIoClient;
  if (Number(eio) === 3) {
    socketIoClient = freshRequire('socket.io-client');
  } else if (Number(eio) === 4) {
    socketIoClient = adaptIo(require('socket.io-client-v4'));
  } else {
    throw new Error('unsupported EIO version: ' + eio + ' (use 3 or 4)');
  }
  var io = freshRequire('sails.io.js')(socketIoClient);
  // Must happen in the same tick as loading (the SDK decides after one tick).
  io.sails.autoConnect = false;
  io.sails.environment = options.verbose ? 'development' : 'production';
  return io;
}

module.exports = { loadSailsIo: loadSailsIo, sdkVersion: require(path.join(path.dirname(require.resolve('sails.io.js')), 'package.json')).version };
