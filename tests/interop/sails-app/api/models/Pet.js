/**
 * Pet: `name` (required string), `species` (string, default 'dog'),
 * plus `id`, `createdAt`, `updatedAt` from config/models.js.
 */
module.exports = {
  attributes: {
    name: { type: 'string', required: true },
    species: { type: 'string', defaultsTo: 'dog' }
  }
};
