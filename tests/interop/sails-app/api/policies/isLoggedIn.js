/**
 * `GET /secret` policy: forbidden unless the session has a truthy userId.
 */
module.exports = function isLoggedIn(req, res, next) {
  if (req.session && req.session.userId) {
    return next();
  }
  return res.forbidden();
};
