module.exports.policies = {
  ConformanceController: {
    secret: 'isLoggedIn'
  }
};
