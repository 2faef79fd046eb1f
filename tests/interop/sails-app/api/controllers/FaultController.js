/**
 * Actions used only by the fault tests (tests/tests/faults.rs). Their routes exist only when
 * SAILS_FAULT_ROUTES is set (config/routes.js), so the conformance route table is unchanged.
 */
var counts = {};

module.exports = {
  // Answers, then disconnects the requesting socket server-side (`socket.disconnect(true)`).
  kick: function (req, res) {
    if (!req.isSocket) { return res.badRequest({ error: 'socket requests only' }); }
    var socket = req.socket;
    setTimeout(function () { socket.disconnect(true); }, 20);
    return res.json({ kicked: true });
  },

  // Answers after `ms` milliseconds, so a request can be in flight when the server dies.
  slow: function (req, res) {
    var ms = Number(req.param('ms')) || 1000;
    setTimeout(function () { return res.json({ slept: ms }); }, ms);
  },

  // Counts deliveries per key, so a test can prove that no request arrived twice.
  count: function (req, res) {
    var key = String(req.param('key'));
    counts[key] = (counts[key] || 0) + 1;
    return res.json({ key: key, count: counts[key] });
  },

  counts: function (req, res) {
    return res.json(counts);
  }
};
