/**
 * REST blueprints only (GET /pet, GET /pet/:id, POST /pet, PATCH|PUT /pet/:id,
 * DELETE /pet/:id). No action routes, no shortcut routes.
 * Blueprint pubsub stays at its defaults (find subscribes + autoWatch).
 */
module.exports.blueprints = {
  actions: false,
  rest: true,
  shortcuts: false
};
