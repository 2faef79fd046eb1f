/**
 * The conformance app actions (issue 4's route table), written exactly as
 * the table describes them.
 */
function headerOrNull(req, name) {
  var value = req.headers[name];
  return value === undefined ? null : value;
}

module.exports = {
  hello: function (req, res) {
    return res.json({ hello: 'world' });
  },

  echo: function (req, res) {
    return res.json({
      method: req.method,
      url: req.url,
      path: req.path,
      query: req.query,
      body: req.body === undefined ? null : req.body,
      params: req.allParams(),
      headers: {
        'x-test': headerOrNull(req, 'x-test'),
        'content-type': headerOrNull(req, 'content-type'),
        hasCookie: !!req.headers.cookie
      },
      isSocket: !!req.isSocket,
      wantsJSON: !!req.wantsJSON
    });
  },

  status: function (req, res) {
    var code = parseInt(req.param('code'), 10);
    return res.status(code).json({ code: code });
  },

  text: function (req, res) {
    res.set('content-type', 'text/plain; charset=utf-8');
    return res.send('plain text');
  },

  // A binary body: over a socket the JWR body is an attachment (a Buffer for sails.io.js in node).
  bytes: function (req, res) {
    return res.send(Buffer.from([0, 1, 2, 254, 255]));
  },

  redirect: function (req, res) {
    return res.redirect('/hello');
  },

  error: function (req, res) {
    throw new Error('Intentional conformance error');
  },

  login: function (req, res) {
    var userId = req.param('userId');
    if (userId === undefined) {
      userId = null;
    }
    req.session.userId = userId;
    return res.json({ ok: true, userId: userId });
  },

  whoami: function (req, res) {
    var userId = (req.session && req.session.userId !== undefined) ? req.session.userId : null;
    return res.json({ userId: userId });
  },

  secret: function (req, res) {
    return res.json({ secret: 'the cake is a lie', userId: req.session.userId });
  },

  join: function (req, res) {
    if (!req.isSocket) {
      return res.badRequest({ error: 'socket requests only' });
    }
    var room = req.param('room');
    sails.sockets.join(req, room);
    return res.json({ joined: room });
  },

  leave: function (req, res) {
    if (!req.isSocket) {
      return res.badRequest({ error: 'socket requests only' });
    }
    var room = req.param('room');
    sails.sockets.leave(req, room);
    return res.json({ left: room });
  },

  say: function (req, res) {
    var room = req.param('room');
    var payload = { room: room, text: req.param('text') };
    if (req.isSocket) {
      sails.sockets.broadcast(room, 'said', payload, req);
    } else {
      sails.sockets.broadcast(room, 'said', payload);
    }
    return res.json({ ok: true });
  },

  blast: function (req, res) {
    sails.sockets.blast('announcement', req.body);
    return res.json({ ok: true });
  },

  // Sends the requesting socket a `question` event that asks for an ack (socket.io's own
  // `emit(event, data, callback)`) and answers with the arguments the client acknowledged with.
  ask: function (req, res) {
    if (!req.isSocket) {
      return res.badRequest({ error: 'socket requests only' });
    }
    var done = false;
    var timer = setTimeout(function () {
      if (done) { return; }
      done = true;
      return res.status(504).json({ error: 'no answer' });
    }, 2000);
    req.socket.emit('question', req.body, function () {
      if (done) { return; }
      done = true;
      clearTimeout(timer);
      return res.json({ answer: Array.prototype.slice.call(arguments) });
    });
  },

  meId: function (req, res) {
    if (!req.isSocket) {
      return res.badRequest({ error: 'socket requests only' });
    }
    return res.json({ id: sails.sockets.getId(req) });
  }
};
