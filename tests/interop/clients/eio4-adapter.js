'use strict';
/**
 * Lets the real sails.io.js 1.2.1 drive socket.io-client 4 (Engine.IO v4).
 *
 * sails.io.js calls `io(url, sailsSocket)`, passing the SailsSocket itself as
 * the options object. Its connection options (url, path, query, transports,
 * reconnection, ...) are non-enumerable accessors made with
 * Object.defineProperty. socket.io-client 2 reads them one by one and works;
 * socket.io-client 4 / engine.io-client 6 copy the options with Object.assign,
 * which skips non-enumerable properties, so the SDK query string (and with it
 * __sails_io_sdk_version) and the path are silently dropped.
 *
 * `adaptIo(ioV4)` returns a function that sails.io.js can augment in place of
 * the socket.io-client 4 `io` export: every call copies the SailsSocket's own
 * properties, enumerable or not, into a plain object and hands that to the
 * real `io`. Nothing in the SDK is modified.
 */

/**
 * Plain-object copy of a SailsSocket (or any options object), including its
 * non-enumerable own properties. Functions and undefined values are left out,
 * as are private fields (leading underscore) and the SDK's bookkeeping queues.
 */
function plainOptions(options) {
  var plain = {};
  if (!options || typeof options !== 'object') {
    return plain;
  }
  var skip = { eventQueue: true, requestQueue: true, headers: true };
  Object.getOwnPropertyNames(options).forEach(function (name) {
    if (name.charAt(0) === '_' || skip[name]) {
      return;
    }
    var value = options[name];
    if (value === undefined || typeof value === 'function') {
      return;
    }
    plain[name] = value;
  });
  return plain;
}

/**
 * Wrap a socket.io-client 4 export so sails.io.js 1.2.1 can use it.
 * Each call returns a fresh function object, so the same socket.io-client
 * module can be augmented more than once (sails.io.js refuses to augment an
 * `io` that already has `io.sails`).
 */
function adaptIo(ioV4) {
  if (typeof ioV4 !== 'function') {
    throw new TypeError('adaptIo expects the socket.io-client 4 export (a function)');
  }
  function adaptedIo(url, options) {
    if (url && typeof url === 'object') {
      return ioV4(plainOptions(url));
    }
    return ioV4(url, plainOptions(options));
  }
  // Keep the static API (Manager, Socket, protocol, connect) reachable.
  Object.keys(ioV4).forEach(function (key) {
    adaptedIo[key] = ioV4[key];
  });
  adaptedIo.connect = adaptedIo;
  adaptedIo.io = adaptedIo;
  return adaptedIo;
}

module.exports = { adaptIo: adaptIo, plainOptions: plainOptions };
