// Types for sails-io-wasm, a drop-in for sails.io.js (shared by the node, web and bundler entry points).

/** A JSON WebSocket Response: the server's answer to a virtual request. */
export interface JWR<T = any> {
  /** The response body (`undefined` when the server sent none, e.g. a 204). */
  body: T;
  /** Response headers. */
  headers: Record<string, any>;
  /** The HTTP status code (200 when the server omitted it). */
  statusCode: number;
  /** Set when the status code is below 200 or from 400 up. */
  error?: Error;
  /** `[ResponseFromSails]  -- Status: …  -- Headers: …  -- Body: …` */
  toString(): string;
  /** `{ body, headers, statusCode }` */
  toPOJO(): { body: T; headers: Record<string, any>; statusCode: number };
  /** Not supported (as in sails.io.js): returns an Error. */
  pipe(): Error;
}

/** What the callback gets as its second argument when the request never got a response. */
export interface FailedResponse {
  body: null;
  statusCode: 0;
  headers: {};
}

/**
 * Request callback. On a response: `(body, jwr)`. When the socket disconnected (or the request timed out)
 * before a response: `(error, { body: null, statusCode: 0, headers: {} })`.
 */
export type RequestCallback<T = any> = (body: T, jwr: JWR<T> | FailedResponse) => void;

/** A request that failed without a response: what the Promise rejects with. */
export interface RequestError extends Error {
  jwr: FailedResponse;
}

export interface RequestOptions {
  /** e.g. `/user/42?limit=2` */
  url: string;
  /** `get` (default), `post`, `put`, `patch`, `delete`, `options` or `head`, in any case. */
  method?: string;
  headers?: Record<string, string>;
  /**
   * The parameters/body; an alias of `data`. `ArrayBuffer`s, typed arrays and node `Buffer`s inside it
   * are sent as binary attachments (Sails hands each to the action as an array of byte values).
   */
  params?: object;
  /** The parameters/body; an alias of `params` (binary values as for `params`). */
  data?: object;
  /** sails-io-wasm: fail the request if no response arrives within this many ms. */
  timeout?: number;
  /**
   * sails-io-wasm: cancels the request when aborted. One not sent yet is never sent; one in flight is
   * forgotten (the server may still carry it out; its answer is dropped). The request ends at once with
   * the signal's `reason` (by default a `DOMException` named `AbortError`), as `fetch` does.
   */
  signal?: AbortSignal;
}

/** Settings of one socket; whatever is left undefined is taken from `io.sails` when it connects. */
export interface SocketOptions {
  /** The server, e.g. `http://localhost:1337` (browser default: the page's origin). */
  url?: string;
  /** Engine path (default `/socket.io`). */
  path?: string;
  /** Extra handshake query, as a string like `foo=89&bar=hi`. */
  query?: string;
  /** Headers added to every request that does not set them. */
  headers?: Record<string, string>;
  /** Node only: headers of the WebSocket handshake (e.g. `cookie`). Browsers cannot send them. */
  initialConnectionHeaders?: Record<string, string>;
  /** Only `websocket` is supported; other values are ignored with a warning. */
  transports?: string[];
  /** Accepted for compatibility; every socket has its own connection anyway. */
  multiplex?: boolean;
  /** Browser, cross-origin: load `<url>/__getcookie` (or this path) before connecting. Default true. */
  useCORSRouteToGetCookie?: boolean | string;
  /** Reconnect automatically when the connection drops (default false, as sails.io.js). */
  reconnection?: boolean;
  reconnectionAttempts?: number;
  reconnectionDelay?: number;
  reconnectionDelayMax?: number;
  randomizationFactor?: number;
  /** Connect timeout in ms (default 20000). */
  timeout?: number;
  /** Ignored (node TLS option of socket.io-client). */
  rejectUnauthorized?: boolean;
  /** sails-io-wasm: default timeout of every request in ms (default: none). */
  requestTimeout?: number;
  /** sails-io-wasm: timeout of the cross-origin cookie handshake in ms (default 10000). */
  getCookieTimeout?: number;
  /** sails-io-wasm: Engine.IO protocol revision, 3 (default, Sails 1.x) or 4. */
  eio?: 3 | 4;
}

export interface SailsSettings extends SocketOptions {
  /** Connect `io.socket` automatically after the current tick (default true). */
  autoConnect?: boolean;
  /** `production` silences the SDK's console messages. */
  environment?: string;
  readonly sdk: { version: string; language: string; platform: 'node' | 'browser' };
  /** Creates and connects a new socket. */
  connect(url?: string, options?: SocketOptions): SailsSocket;
}

export type Listener = (...args: any[]) => void;

export interface SailsSocket extends SocketOptions {
  get<T = any>(url: string, data: object | undefined, cb: RequestCallback<T>): void;
  get<T = any>(url: string, cb: RequestCallback<T>): void;
  get<T = any>(url: string, data?: object): Promise<JWR<T>>;
  post<T = any>(url: string, data: object | undefined, cb: RequestCallback<T>): void;
  post<T = any>(url: string, cb: RequestCallback<T>): void;
  post<T = any>(url: string, data?: object): Promise<JWR<T>>;
  put<T = any>(url: string, data: object | undefined, cb: RequestCallback<T>): void;
  put<T = any>(url: string, cb: RequestCallback<T>): void;
  put<T = any>(url: string, data?: object): Promise<JWR<T>>;
  patch<T = any>(url: string, data: object | undefined, cb: RequestCallback<T>): void;
  patch<T = any>(url: string, cb: RequestCallback<T>): void;
  patch<T = any>(url: string, data?: object): Promise<JWR<T>>;
  delete<T = any>(url: string, data: object | undefined, cb: RequestCallback<T>): void;
  delete<T = any>(url: string, cb: RequestCallback<T>): void;
  delete<T = any>(url: string, data?: object): Promise<JWR<T>>;
  /** Throws (with sails.io.js's messages) on invalid options. */
  request<T = any>(options: RequestOptions, cb: RequestCallback<T>): void;
  request<T = any>(options: RequestOptions): Promise<JWR<T>>;

  /**
   * Events: `connect`, `disconnect` (reason), `connect_error` (Error), `connect_timeout`,
   * `reconnect_attempt` (n), `reconnecting` (n), `reconnect_error` (Error), `reconnect` (n),
   * `reconnect_failed`, `sails:parseError`, and every server event (model names, room messages…).
   * When the server asks for an acknowledgement, the last argument is a function to call with the answer.
   */
  on(event: string, listener: Listener): this;
  off(event: string, listener?: Listener): this;
  removeAllListeners(event?: string): this;

  isConnected(): boolean;
  isConnecting(): boolean;
  mightBeAboutToAutoConnect(): boolean;
  /** Throws `Cannot disconnect- socket is already disconnected` when not connected. */
  disconnect(): void;
  /** Throws when already connected or connecting. */
  reconnect(): this;
}

export interface SailsSocketConstructor {
  new (options?: SocketOptions): SailsSocket;
  prototype: SailsSocket;
}

export interface SailsIO {
  sails: SailsSettings;
  /** The eager socket; deleted when `io.sails.autoConnect` is false after the first tick. */
  socket: SailsSocket;
  SailsSocket: SailsSocketConstructor;
}

/**
 * Node: `require('sails-io-wasm')(WebSocketImpl?)` returns a fresh `io`. Pass npm `ws` (or nothing to use
 * the global WebSocket of Node 22+, or node 20 with `--experimental-websocket`). Passing socket.io-client,
 * as with sails.io.js, is accepted and ignored.
 */
export type SailsIoFactory = (webSocketImpl?: unknown) => SailsIO;
