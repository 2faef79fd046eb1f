/**
 * Session: default in-memory store, cookie `sails.sid`.
 * The secret is a fixed test value (this app only ever listens on 127.0.0.1).
 */
module.exports.session = {
  secret: 'sails-io-rs-interop-not-a-secret'
};
