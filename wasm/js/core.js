// sails-io-wasm: the sails.io.js API (io.sails, io.socket, SailsSocket, JWR) over the wasm driver.
// This file only adapts the API; connecting, queueing, heartbeats, acks, timeouts and reconnection are
// all done by the Rust core. build.sh wraps it into the CommonJS (node) and ES module (web, bundler)
// entry points.

var SDK_VERSION = '1.2.1';

// The options a socket takes from itself first, then from `io.sails`.
var SOCKET_OPTIONS = [
  'url', 'path', 'query', 'headers', 'initialConnectionHeaders', 'transports', 'multiplex',
  'useCORSRouteToGetCookie', 'reconnection', 'reconnectionAttempts', 'reconnectionDelay',
  'reconnectionDelayMax', 'randomizationFactor', 'timeout', 'rejectUnauthorized',
  // sails-io-wasm additions
  'requestTimeout', 'getCookieTimeout', 'eio'
];

var USAGE = 'Usage:\n' +
  'socket.request( options, [fnToCallWhenComplete] )\n\n' +
  'options.url :: e.g. "/foo/bar"\n' +
  'options.method :: e.g. "get", "post", "put", or "delete", etc.\n' +
  'options.params :: e.g. { emailAddress: "mike@example.com" }\n' +
  'options.headers :: e.g. { "x-my-custom-header": "some string" }';

var DISCONNECTED_MESSAGE = 'The socket disconnected before the request completed.';
var TIMEOUT_MESSAGE = 'The request timed out before the server responded.';

// Request data or ack arguments as JSON text plus the binary values found in them (ArrayBuffer, typed
// arrays, node Buffers), each replaced by a reference to its index; the Rust core sends them as Socket.IO
// attachments. The replacer looks at `this[key]`, the value before `toJSON` (a Buffer's toJSON would hide
// it). Blobs cannot be read synchronously: refused rather than sent as `{}`.
function encodeJson(value) {
  var attachments = [];
  var json = JSON.stringify(value, function (key, v) {
    var raw = this[key];
    if (raw && typeof raw === 'object' && typeof ArrayBuffer !== 'undefined') {
      if (raw instanceof ArrayBuffer) raw = new Uint8Array(raw);
      if (ArrayBuffer.isView(raw)) {
        attachments.push(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
        return { _placeholder: true, num: attachments.length - 1 };
      }
      if (typeof Blob !== 'undefined' && raw instanceof Blob) {
        throw new Error('sails-io-wasm: a Blob or File cannot be sent as is; pass `await blob.arrayBuffer()`');
      }
    }
    return v;
  });
  // Passed to the driver end to end, with their lengths.
  var total = 0;
  var lengths = new Uint32Array(attachments.length);
  attachments.forEach(function (a, i) { lengths[i] = a.length; total += a.length; });
  var bytes = new Uint8Array(total);
  var at = 0;
  attachments.forEach(function (a) { bytes.set(a, at); at += a.length; });
  return { json: json, bytes: bytes, lengths: lengths };
}

// env: { Driver, ready: Promise | null, platform: 'node' | 'browser', openWebSocket(url, headers),
//        scriptUrl, toBuffer(arrayBuffer) | null }
function createIo(env) {
  var io = {};
  var warned = {};
  var wasmReady = !env.ready;
  var wasmError = null;
  if (env.ready) {
    env.ready.then(function () { wasmReady = true; }, function (e) { wasmError = e; });
  }

  function warnOnce(key, message) {
    if (warned[key]) return;
    warned[key] = true;
    if (typeof console !== 'undefined') console.warn(message);
  }

  // SDK messages, silenced when io.sails.environment is 'production'.
  function log() {
    if (io.sails.environment === 'production' || typeof console === 'undefined') return;
    console.log.apply(console, arguments);
  }

  function defaultEnvironment() {
    var locals = typeof window !== 'undefined' ? window.SAILS_LOCALS : undefined;
    if (locals && (locals._environment === 'staging' || locals._environment === 'production')) return 'production';
    if (typeof env.scriptUrl === 'string' && /(#production|\.min\.js)/.test(env.scriptUrl)) return 'production';
    return 'development';
  }

  io.sails = {
    autoConnect: true,
    reconnection: false,
    useCORSRouteToGetCookie: true,
    environment: defaultEnvironment(),
    transports: ['websocket'],
    sdk: { version: SDK_VERSION, language: 'javascript', platform: env.platform }
  };

  // ---- JWR -------------------------------------------------------------------------------------
  function JWR(r) {
    this.body = r.body;
    this.headers = r.headers || {};
    this.statusCode = (typeof r.statusCode === 'undefined') ? 200 : r.statusCode;
    if (typeof r.error === 'string') {
      this.error = new Error(r.error);
    } else if (this.statusCode < 200 || this.statusCode >= 400) {
      // sails.io.js's message, with the body as this JWR holds it (a Buffer in node, an ArrayBuffer in
      // browsers, as sails.io.js receives them).
      this.error = new Error(this.statusCode === 0 ? 'The socket request failed.'
        : 'Server responded with a ' + this.statusCode + ' status code:\n```\n' +
          JSON.stringify(this.body, null, 2) + '\n```');
    }
  }
  JWR.prototype.toString = function () {
    return '[ResponseFromSails]' + '  -- Status: ' + this.statusCode + '  -- Headers: ' + this.headers +
      '  -- Body: ' + this.body;
  };
  JWR.prototype.toPOJO = function () {
    return { body: this.body, headers: this.headers, statusCode: this.statusCode };
  };
  JWR.prototype.pipe = function () {
    return new Error('Client-side streaming support not implemented yet.');
  };

  function buffers(v) {
    if (v instanceof ArrayBuffer) return env.toBuffer(v);
    if (Array.isArray(v)) return v.map(buffers);
    if (v && typeof v === 'object') {
      for (var k in v) if (Object.prototype.hasOwnProperty.call(v, k)) v[k] = buffers(v[k]);
    }
    return v;
  }

  // ---- SailsSocket -------------------------------------------------------------------------------
  function SailsSocket(opts) {
    opts = opts || {};
    var self = this;
    SOCKET_OPTIONS.forEach(function (k) { self[k] = opts[k]; });
    self._opts = opts;
    self._driver = null;
    self._isConnecting = false;
    self._mightBeAboutToAutoConnect = false;
    self._inReconnectAttempt = false;
    self._listeners = {};
    self._pending = {};
    self._early = []; // requests made before the driver exists
  }

  SailsSocket.prototype._emit = function (name, args) {
    var fns = (this._listeners[name] || []).slice();
    for (var i = 0; i < fns.length; i++) {
      try {
        fns[i].apply(this, args || []);
      } catch (e) {
        rethrowLater(e);
      }
    }
  };

  SailsSocket.prototype.on = function (name, fn) {
    (this._listeners[name] = this._listeners[name] || []).push(fn);
    return this;
  };

  SailsSocket.prototype.off = function (name, fn) {
    var fns = this._listeners[name];
    if (!fns) return this;
    if (typeof fn === 'undefined') { delete this._listeners[name]; return this; }
    var i = fns.indexOf(fn);
    if (i !== -1) fns.splice(i, 1);
    return this;
  };

  SailsSocket.prototype.removeAllListeners = function (name) {
    if (typeof name === 'undefined') this._listeners = {};
    else delete this._listeners[name];
    return this;
  };

  SailsSocket.prototype.isConnected = function () {
    return !!this._driver && this._driver.isConnected();
  };
  SailsSocket.prototype.isConnecting = function () { return this._isConnecting; };
  SailsSocket.prototype.mightBeAboutToAutoConnect = function () { return this._mightBeAboutToAutoConnect; };

  SailsSocket.prototype.disconnect = function () {
    this._isConnecting = false;
    if (!this.isConnected()) throw new Error('Cannot disconnect- socket is already disconnected');
    this._driver.disconnect();
  };

  SailsSocket.prototype.reconnect = function () {
    if (this._isConnecting) throw new Error('Cannot connect- socket is already connecting');
    if (this.isConnected()) throw new Error('Cannot connect- socket is already connected');
    return this._connect();
  };

  SailsSocket.prototype._request = function () {
    throw new Error('`_request()` was a private API deprecated as of v0.11 of the sails.io.js client. Use `.request()` instead.');
  };

  // A setting of this socket, or io.sails' where the socket leaves it unset.
  SailsSocket.prototype._setting = function (k) {
    return typeof this[k] === 'undefined' ? io.sails[k] : this[k];
  };

  // Fills unset options from io.sails (as sails.io.js does at connect time) and returns the settings
  // object the driver takes.
  SailsSocket.prototype._resolveOptions = function () {
    var self = this;
    SOCKET_OPTIONS.forEach(function (k) { self[k] = self._setting(k); });
    if (!self.url && env.platform === 'browser' && typeof location !== 'undefined' && location.host) {
      self.url = location.protocol + '//' + location.host;
    }
    if (typeof self.url === 'string') self.url = self.url.replace(/(\/)$/, '');
    var query = self.query;
    if (query && typeof query === 'object') {
      throw new Error('`query` setting does not currently support configuration as a dictionary (`{}`).  ' +
        'Instead, it must be specified as a string like `foo=89&bar=hi`');
    } else if (query && typeof query !== 'string') {
      throw new Error('Unexpected data type provided for `query` setting: ' + query);
    }
    if (Array.isArray(self.transports) && self.transports.indexOf('websocket') === -1) {
      warnOnce('transports', 'sails-io-wasm only speaks the `websocket` transport; `transports: ' +
        JSON.stringify(self.transports) + '` is ignored.');
    }
    var initial = self.initialConnectionHeaders;
    if (initial && env.platform === 'browser') {
      warnOnce('initialConnectionHeaders', 'When running in browser, `initialConnectionHeaders` option is only ' +
        'available for the `polling` transport (sails-io-wasm uses WebSocket only, so they are not sent).');
    }
    var attempts = self.reconnectionAttempts;
    var eio = self.eio;
    return {
      url: self.url,
      path: self.path,
      query: query ? query.replace(/^\?/, '') : undefined,
      eio: eio === undefined || eio === null ? undefined : String(eio),
      platform: env.platform,
      reconnection: !!self.reconnection,
      reconnectionAttempts: (typeof attempts === 'number' && isFinite(attempts)) ? attempts : undefined,
      reconnectionDelay: self.reconnectionDelay,
      reconnectionDelayMax: self.reconnectionDelayMax,
      randomizationFactor: self.randomizationFactor,
      timeout: self.timeout,
      requestTimeout: self.requestTimeout,
      headers: self.headers === undefined || self.headers === null ? undefined : JSON.stringify(self.headers),
      seed: Math.floor(Math.random() * 4294967296)
    };
  };

  SailsSocket.prototype._connect = function () {
    var self = this;
    self._isConnecting = true;
    self._mightBeAboutToAutoConnect = false;
    if (!wasmReady) {
      if (wasmError) return self._failConnect(wasmError);
      env.ready.then(function () {
        try {
          self._connectNow();
        } catch (e) {
          self._failConnect(e);
        }
      }, function (e) { self._failConnect(e); });
      return self;
    }
    self._connectNow();
    return self;
  };

  SailsSocket.prototype._failConnect = function (error) {
    this._isConnecting = false;
    log('sails-io-wasm: the socket could not connect: ' + (error && error.message || error));
    error = error instanceof Error ? error : new Error(String(error));
    this._emit('connect_error', [error]);
    // The connection was never attempted (the wasm module, the settings or the cookie handshake failed)
    // and no attempt follows: the requests waiting for one end with the error, as the core ends its
    // queued requests when it gives up connecting. None of them was sent.
    var self = this;
    var ended = self._early.map(function (r) { return r[5]; });
    self._early = [];
    Object.keys(self._pending).forEach(function (id) {
      ended.push(self._pending[id]);
      delete self._pending[id];
      self._driver.cancel(Number(id));
    });
    ended.forEach(function (entry) { finish(entry, null, new Error(error.message)); });
  };

  SailsSocket.prototype._connectNow = function () {
    var self = this;
    if (!self._driver) {
      var options = self._resolveOptions();
      var initial = env.platform === 'node' ? self.initialConnectionHeaders : undefined;
      self._driver = new env.Driver(options, function (url) {
        return env.openWebSocket(url, initial);
      }, function (kind, a, b, c) {
        self._onDriverEvent(kind, a, b, c);
      });
      var early = self._early;
      self._early = [];
      early.forEach(function (r) {
        var entry = r[5];
        var timeout = r[4];
        if (entry.earlyTimer) {
          // The deadline counts from the request: the driver gets what is left of it.
          clearTimeout(entry.earlyTimer);
          entry.earlyTimer = null;
          timeout = Math.max(0, entry.deadline - Date.now());
        }
        self._send(r[0], r[1], r[2], r[3], timeout, entry, true);
      });
    }
    var cookieRoute = self._crossOriginCookieRoute();
    if (!cookieRoute) {
      self._driver.connect();
      return;
    }
    getCookie(self.url + cookieRoute, self.getCookieTimeout || 10000, function (error) {
      if (!self._isConnecting) return; // disconnect() was called meanwhile
      if (error) return self._failConnect(error);
      self._driver.connect();
    });
  };

  // The path of the cookie route when the page and the server are on different origins (browser only).
  SailsSocket.prototype._crossOriginCookieRoute = function () {
    var route = this.useCORSRouteToGetCookie;
    if (!route || env.platform !== 'browser' || typeof document === 'undefined' || typeof location === 'undefined') {
      return null;
    }
    var target;
    try {
      target = new URL(this.url, location.href);
    } catch (e) {
      return null;
    }
    var here = new URL(location.href);
    var port = function (u) { return u.port || (u.protocol === 'https:' || u.protocol === 'wss:' ? '443' : '80'); };
    var sameOrigin = target.hostname === here.hostname && port(target) === port(here) &&
      target.protocol.replace(/^ws/, 'http') === here.protocol;
    if (sameOrigin) return null;
    return typeof route === 'string' ? route : '/__getcookie';
  };

  SailsSocket.prototype._onDriverEvent = function (kind, a, b, c) {
    var self = this;
    switch (kind) {
      case 'response': {
        var entry = self._pending[a];
        delete self._pending[a];
        if (entry) settle(entry, b);
        return;
      }
      case 'event': {
        var args = b;
        if (typeof c === 'number') {
          var driver = self._driver;
          var acked = false;
          args = args.concat([function () {
            // Once, as socket.io-client's ack functions: later calls do nothing.
            if (acked) return;
            acked = true;
            var encoded = encodeJson(Array.prototype.slice.call(arguments));
            driver.ack(c, encoded.json, encoded.bytes, encoded.lengths);
          }]);
        }
        if (env.toBuffer) args = buffers(args);
        if (a === 'sails:parseError') {
          log('Sails could not parse a socket message from this client and had no callback to answer with:', args[0]);
        }
        self._emit(a, args);
        return;
      }
      case 'connect':
        self._isConnecting = false;
        self._inReconnectAttempt = false;
        log('sails-io-wasm: now connected to ' + self.url + ' (sails.io.js ' + env.platform +
          ' SDK protocol v' + SDK_VERSION + ', socket id ' + a + ')');
        self._emit('connect', []);
        return;
      case 'disconnect':
        log('sails-io-wasm: socket was disconnected from Sails (' + a + ').');
        self._emit('disconnect', [a]);
        return;
      case 'connect_error': {
        var error = new Error(a);
        if (!self._inReconnectAttempt) self._isConnecting = false;
        if (b === 'timeout') self._emit('connect_timeout', []);
        log('sails-io-wasm: the socket could not connect to ' + self.url + ': ' + a);
        self._emit('connect_error', [error]);
        if (self._inReconnectAttempt) self._emit('reconnect_error', [error]);
        return;
      }
      case 'reconnecting':
        self._inReconnectAttempt = true;
        log('sails-io-wasm: trying to reconnect to ' + self.url + ' (attempt #' + a + ')');
        self._emit('reconnect_attempt', [a]);
        self._emit('reconnecting', [a]);
        return;
      case 'reconnect':
        self._inReconnectAttempt = false;
        log('sails-io-wasm: socket reconnected after ' + a + ' attempt(s).');
        self._emit('reconnect', [a]);
        return;
      case 'reconnect_failed':
        self._inReconnectAttempt = false;
        self._emit('reconnect_failed', []);
        return;
    }
  };

  function settle(entry, r) {
    if (typeof r.kind === 'undefined') {
      if (r.binary && env.toBuffer) r.body = buffers(r.body);
      return finish(entry, new JWR(r), null);
    }
    if (r.kind === 'server') {
      // Sails could not parse the request: answered as a 4xx JWR carrying Sails' explanation.
      var body = { message: r.message, details: r.details };
      return finish(entry, new JWR({ body: body, headers: {}, statusCode: r.status, error: r.message }), null);
    }
    if (r.kind === 'cancelled' && entry.signal) return finish(entry, null, abortError(entry.signal));
    var message = r.kind === 'disconnected' ? DISCONNECTED_MESSAGE
      : r.kind === 'timeout' ? TIMEOUT_MESSAGE : r.message;
    finish(entry, null, new Error(message));
  }

  function finish(entry, jwr, error) {
    entry.done = true;
    if (entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    if (entry.earlyTimer) clearTimeout(entry.earlyTimer);
    if (entry.cb) {
      try {
        if (jwr) entry.cb(jwr.body, jwr);
        else entry.cb(error, { body: null, statusCode: 0, headers: {} });
      } catch (e) {
        rethrowLater(e);
      }
    } else if (jwr) {
      entry.resolve(jwr);
    } else {
      // An AbortSignal's reason is the caller's own value: passed on untouched, as fetch does.
      if (!entry.signal || error !== entry.signal.reason) error.jwr = { body: null, statusCode: 0, headers: {} };
      entry.reject(error);
    }
  }

  // An exception thrown by the application's callback or listener: reported like an uncaught error,
  // without breaking the socket (the driver, or whatever was ending several requests at once, goes on).
  function rethrowLater(e) {
    setTimeout(function () { throw e; }, 0);
  }

  // What an aborted request ends with: the signal's reason (an `AbortError` DOMException unless the caller
  // gave one), or an equivalent Error where AbortSignal has no `reason` yet.
  function abortError(signal) {
    if (typeof signal.reason !== 'undefined') return signal.reason;
    var error = new Error('This operation was aborted');
    error.name = 'AbortError';
    return error;
  }

  function invalid(message) {
    return new Error(message + '\n' + USAGE);
  }

  SailsSocket.prototype.request = function (options, cb) {
    if (typeof cb !== 'undefined' && typeof cb !== 'function') throw invalid('Invalid callback function!');
    if (typeof options !== 'object' || options === null || typeof options.url !== 'string') {
      throw invalid('Invalid or missing URL!');
    }
    if (options.method && typeof options.method !== 'string') {
      throw invalid('Invalid `method` provided (should be a string like "post" or "put")');
    }
    if (options.headers && typeof options.headers !== 'object') {
      throw invalid('Invalid `headers` provided (should be a dictionary with string values)');
    }
    if (options.params && typeof options.params !== 'object') {
      throw invalid('Invalid `params` provided (should be a dictionary with JSON-serializable values)');
    }
    if (options.data && typeof options.data !== 'object') {
      throw invalid('Invalid `data` provided (should be a dictionary with JSON-serializable values)');
    }
    if (options.data && options.params) {
      throw invalid('Cannot specify both `params` and `data`!  They are aliases of each other.');
    }
    var signal = options.signal;
    if (typeof signal !== 'undefined' && (typeof signal !== 'object' || signal === null ||
      typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
      throw invalid('Invalid `signal` provided (should be an AbortSignal)');
    }
    var entry = { cb: cb, signal: signal || null };
    var promise;
    if (!cb) {
      promise = new Promise(function (resolve, reject) { entry.resolve = resolve; entry.reject = reject; });
    }
    if (entry.signal && entry.signal.aborted) {
      // Never sent; called back after this call returns, as every other outcome is.
      Promise.resolve().then(function () { finish(entry, null, abortError(entry.signal)); });
      return promise;
    }
    var timeout = typeof options.timeout === 'number' ? options.timeout : -1;
    var data = encodeJson(options.params || options.data || {});
    this._send(options.method || 'get', options.url, JSON.stringify(options.headers || {}),
      data, timeout, entry, false);
    if (entry.signal && !entry.done) {
      var self = this;
      entry.onAbort = function () { self._abort(entry); };
      entry.signal.addEventListener('abort', entry.onAbort);
    }
    return promise;
  };

  SailsSocket.prototype._send = function (method, url, headers, data, timeout, entry, late) {
    if (!this._driver) {
      // Waiting for the driver (the socket has not started connecting, or the wasm module is loading):
      // the request's timeout, or the socket's default, already runs.
      var wait = timeout >= 0 ? timeout : this._setting('requestTimeout');
      if (typeof wait === 'number' && isFinite(wait) && wait >= 0) {
        var self = this;
        entry.deadline = Date.now() + wait;
        entry.earlyTimer = setTimeout(function () {
          entry.earlyTimer = null;
          self._unqueueEarly(entry, new Error(TIMEOUT_MESSAGE));
        }, wait);
      }
      this._early.push([method, url, headers, data, timeout, entry]);
      return;
    }
    var id;
    try {
      id = this._driver.request(method, url, headers, data.json, timeout, data.bytes, data.lengths);
    } catch (e) {
      if (!late) throw new Error(e.message);
      return finish(entry, null, new Error(e.message));
    }
    entry.id = id;
    this._pending[id] = entry;
  };

  // The request's signal fired: one made before the driver existed leaves the early queue; the driver
  // cancels any other (never sent if still queued, its answer dropped if in flight) and reports it ended.
  SailsSocket.prototype._abort = function (entry) {
    if (typeof entry.id !== 'undefined') {
      if (this._pending[entry.id] === entry) this._driver.cancel(entry.id);
      return;
    }
    this._unqueueEarly(entry, abortError(entry.signal));
  };

  // Ends a request still waiting for the driver with `error`.
  SailsSocket.prototype._unqueueEarly = function (entry, error) {
    for (var i = 0; i < this._early.length; i++) {
      if (this._early[i][5] === entry) {
        this._early.splice(i, 1);
        return finish(entry, null, error);
      }
    }
  };

  ['get', 'post', 'put', 'patch', 'delete'].forEach(function (method) {
    SailsSocket.prototype[method] = function (url, data, cb) {
      if (typeof data === 'function') {
        cb = data;
        data = {};
      }
      var options = { method: method, url: url };
      options[method === 'post' ? 'data' : 'params'] = data;
      return this.request(options, cb);
    };
  });

  // ---- cross-origin cookie handshake (browser) ---------------------------------------------------
  // Loads `<url>/__getcookie` as a script (what sails.io.js does): the response sets the session cookie
  // for the server's site, which the WebSocket handshake then carries. Unlike sails.io.js, a failure or
  // a timeout is reported instead of never connecting.
  function getCookie(src, timeoutMs, done) {
    if (typeof window._sailsIoJSConnect !== 'function') {
      window._sailsIoJSConnect = function () {};
    }
    var script = document.createElement('script');
    var finished = false;
    var timer = setTimeout(function () {
      end(new Error('sails-io-wasm: no answer from ' + src + ' within ' + timeoutMs + ' ms (the cross-origin ' +
        'cookie handshake). Is the server reachable? Set `io.sails.useCORSRouteToGetCookie = false` to skip it.'));
    }, timeoutMs);
    function end(error) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      script.onload = script.onerror = null;
      if (script.parentNode) script.parentNode.removeChild(script);
      done(error);
    }
    script.onload = function () { end(null); };
    script.onerror = function () {
      end(new Error('sails-io-wasm: could not load ' + src + ' (the cross-origin cookie handshake). Is the ' +
        'server reachable, and does it serve this route? Set `io.sails.useCORSRouteToGetCookie = false` to skip it.'));
    };
    script.src = src;
    (document.head || document.documentElement).appendChild(script);
  }

  io.sails.connect = function (url, opts) {
    opts = opts || {};
    opts.url = url || opts.url;
    var socket = new SailsSocket(opts);
    socket._connect();
    return socket;
  };

  io.SailsSocket = SailsSocket;
  io.JWR = JWR;

  // The eager socket: it connects after the current tick unless autoConnect is turned off by then.
  io.socket = new SailsSocket();
  io.socket._mightBeAboutToAutoConnect = true;
  setTimeout(function () {
    io.socket._mightBeAboutToAutoConnect = false;
    if (io.sails.autoConnect === false || io.sails.autoconnect === false) {
      delete io.socket;
      return;
    }
    try {
      io.socket._connect();
    } catch (e) {
      io.socket._failConnect(e);
    }
  }, 0);

  return io;
}
