// The browser entry point (`sails-io-wasm/web`), type-checked by `tsc --noEmit`.
import io, { ready } from 'sails-io-wasm/web';
import type { JWR, RequestCallback, SailsSocket } from 'sails-io-wasm/web';

io.sails.url = 'https://api.example.com';
io.sails.useCORSRouteToGetCookie = '/csrf/getcookie';
io.sails.getCookieTimeout = 3000;

const onHello: RequestCallback<{ hello: string }> = (body, jwr) => console.log(body.hello, jwr.statusCode);
io.socket.get('/hello', onHello);

async function run(socket: SailsSocket): Promise<number> {
  await ready;
  const jwr: JWR = await socket.delete('/pet/1');
  return jwr.statusCode;
}
void run(io.sails.connect());
