/**
 * sails-hook-sockets configuration.
 *
 * Deliberately empty by default: the conformance suite compares against the hook's
 * defaults (path /socket.io, websocket only, pingInterval 25000, pingTimeout 60000,
 * grant3rdPartyCookie true, sendStatusCode and sendResponseHeaders true, no
 * beforeConnect, no onlyAllowOrigins).
 *
 * The fault tests (tests/tests/faults.rs) set environment variables to change it:
 * - SAILS_PING_INTERVAL / SAILS_PING_TIMEOUT (ms): short heartbeats, so a frozen
 *   server is detected quickly;
 * - SAILS_REJECT_CONNECTIONS: a beforeConnect that refuses every handshake with
 *   this message;
 * - SAILS_TRANSPORTS: e.g. `polling,websocket` (tests/tests/polling.rs).
 */
var sockets = {};
if (process.env.SAILS_PING_INTERVAL) { sockets.pingInterval = Number(process.env.SAILS_PING_INTERVAL); }
if (process.env.SAILS_PING_TIMEOUT) { sockets.pingTimeout = Number(process.env.SAILS_PING_TIMEOUT); }
if (process.env.SAILS_REJECT_CONNECTIONS) {
  sockets.beforeConnect = function (handshake, proceed) {
    return proceed(process.env.SAILS_REJECT_CONNECTIONS, false);
  };
}
if (process.env.SAILS_TRANSPORTS) { sockets.transports = process.env.SAILS_TRANSPORTS.split(','); }
module.exports.sockets = sockets;
