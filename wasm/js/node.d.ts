import * as T from './types';

/** `require('sails-io-wasm')(WebSocketImpl?)`: a fresh `io`, like `require('sails.io.js')(require('socket.io-client'))`. */
declare function sailsIoWasm(webSocketImpl?: unknown): T.SailsIO;

declare namespace sailsIoWasm {
  export type JWR<B = any> = T.JWR<B>;
  export type FailedResponse = T.FailedResponse;
  export type RequestCallback<B = any> = T.RequestCallback<B>;
  export type RequestError = T.RequestError;
  export type RequestOptions = T.RequestOptions;
  export type SocketOptions = T.SocketOptions;
  export type SailsSettings = T.SailsSettings;
  export type SailsSocket = T.SailsSocket;
  export type SailsIO = T.SailsIO;
  export type Listener = T.Listener;
  export { sailsIoWasm as default };
}

export = sailsIoWasm;
