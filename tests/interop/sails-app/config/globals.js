/**
 * Sails 1 requires globals to be configured explicitly; the actions use the
 * `sails` global (sails.sockets.*) and nothing else.
 */
module.exports.globals = {
  _: false,
  async: false,
  models: false,
  sails: true
};
