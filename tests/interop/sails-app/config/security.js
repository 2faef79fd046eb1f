/**
 * Sails 1 defaults: CSRF off, CORS off. Spelled out so the suite does not
 * depend on a generator template.
 */
module.exports.security = {
  csrf: false
};
