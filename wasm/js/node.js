// sails-io-wasm for node (CommonJS): `require('sails-io-wasm')(optionalWebSocketImpl)` returns a fresh
// `io`, like `require('sails.io.js')(require('socket.io-client'))`.
'use strict';
var Driver = require('./sails_io_wasm.js').Driver;

//@@CORE@@

function isWebSocketClass(impl) {
  return typeof impl === 'function' && !!impl.prototype && typeof impl.prototype.send === 'function';
}

function sailsIoWasm(webSocketImpl) {
  // Passing socket.io-client (the sails.io.js habit) is accepted and ignored.
  var impl = isWebSocketClass(webSocketImpl) ? webSocketImpl : undefined;
  return createIo({
    Driver: Driver,
    ready: null,
    platform: 'node',
    scriptUrl: undefined,
    toBuffer: function (ab) { return Buffer.from(ab); },
    openWebSocket: function (url, headers) {
      var WS = impl || globalThis.WebSocket;
      if (typeof WS !== 'function') {
        throw new Error('No WebSocket implementation: use Node 22+ (or node 20 with --experimental-websocket), ' +
          'or pass one: require(\'sails-io-wasm\')(require(\'ws\'))');
      }
      if (!headers || Object.keys(headers).length === 0) return new WS(url);
      // npm `ws` takes (url, protocols, {headers}); undici (node's global WebSocket) takes (url, {headers}).
      if (typeof WS.createWebSocketStream === 'function' || typeof WS.Server === 'function') {
        return new WS(url, undefined, { headers: headers });
      }
      return new WS(url, { headers: headers });
    }
  });
}

module.exports = sailsIoWasm;
module.exports.default = sailsIoWasm;
