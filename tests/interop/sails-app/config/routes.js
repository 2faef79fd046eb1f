/**
 * The conformance app route table (issue 4). Blueprint REST routes for `Pet`
 * are added by the blueprints hook (config/blueprints.js).
 */
module.exports.routes = {
  'GET /hello': 'ConformanceController.hello',
  // 'ALL': a verb-less address in Sails binds only get/put/post/delete/patch
  // (HEAD via GET), not OPTIONS; the table asks for every verb.
  'ALL /echo': 'ConformanceController.echo',
  'GET /status/:code': 'ConformanceController.status',
  'GET /text': 'ConformanceController.text',
  'GET /bytes': 'ConformanceController.bytes',
  'GET /redirect': 'ConformanceController.redirect',
  'GET /error': 'ConformanceController.error',
  'POST /login': 'ConformanceController.login',
  'GET /whoami': 'ConformanceController.whoami',
  'GET /secret': 'ConformanceController.secret',
  'POST /rooms/:room/join': 'ConformanceController.join',
  'POST /rooms/:room/leave': 'ConformanceController.leave',
  'POST /rooms/:room/say': 'ConformanceController.say',
  'POST /blast': 'ConformanceController.blast',
  'GET /me/id': 'ConformanceController.meId',
  'POST /ask': 'ConformanceController.ask'
};

// Extra routes for the fault tests only (tests/tests/faults.rs); absent from conformance runs.
if (process.env.SAILS_FAULT_ROUTES) {
  module.exports.routes['POST /kick'] = 'FaultController.kick';
  module.exports.routes['GET /slow'] = 'FaultController.slow';
  module.exports.routes['POST /count'] = 'FaultController.count';
  module.exports.routes['GET /counts'] = 'FaultController.counts';
}
