/**
 * sails-hook-sockets configuration.
 *
 * Deliberately empty: the conformance suite compares against the hook's
 * defaults (path /socket.io, websocket only, pingInterval 25000,
 * pingTimeout 60000, grant3rdPartyCookie true, sendStatusCode and
 * sendResponseHeaders true, no beforeConnect, no onlyAllowOrigins).
 */
module.exports.sockets = {};
