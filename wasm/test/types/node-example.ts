// Type-checked by `tsc --noEmit` (wasm/test.sh): the .d.ts files describe what the API does.
import sailsIoWasm = require('sails-io-wasm');
type JWR<T> = sailsIoWasm.JWR<T>;
type SailsSocket = sailsIoWasm.SailsSocket;

const io = sailsIoWasm();
io.sails.url = 'http://localhost:1337';
io.sails.reconnection = true;
io.sails.requestTimeout = 5000;

interface Pet { id: number; name: string }

io.socket.get('/pet', (body: Pet[], jwr) => {
  console.log(body.length, jwr.statusCode);
});
io.socket.post('/pet', { name: 'Rex' }, (body: Pet) => console.log(body.name));

async function main(socket: SailsSocket): Promise<void> {
  const jwr: JWR<Pet> = await socket.get<Pet>('/pet/1');
  if (jwr.error) console.error(jwr.error.message, jwr.toPOJO().statusCode);
  const r = await socket.request({ method: 'patch', url: '/pet/1', data: { name: 'Max' }, timeout: 1000 });
  console.log(String(r));
  const controller = new AbortController();
  const cancellable = socket.request({ url: '/slow', signal: controller.signal });
  controller.abort();
  await cancellable.catch((e: unknown) => console.log(e instanceof Error && e.name === 'AbortError'));
  socket.on('pet', (msg: { verb: string }) => console.log(msg.verb)).off('pet');
  if (socket.isConnected()) socket.disconnect();
  else if (!socket.isConnecting()) socket.reconnect();
}

const other = io.sails.connect('http://localhost:1337', { initialConnectionHeaders: { cookie: 'sails.sid=x' } });
void main(other);

// @ts-expect-error the URL is required
io.socket.get();
// @ts-expect-error request options need a url
io.socket.request({ method: 'get' });
