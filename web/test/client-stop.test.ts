// A stopped client takes in nothing more. Found by CI under load: a
// delivery that reached a device's socket just after the client was
// stopped (while the socket closed) was taken in and returned by the next
// nextMessage after a restart, although the sender had recalled it in
// between and the server had deleted it. Frames after stop() are now left
// to the server, which delivers them again at the next connection.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Account, Client } from '../src/client/index.js';
import { ServerSide } from './stand-in-server.js';

const ME = 'u000000000000000000000001';
const BOB = 'u000000000000000000000002';

function deliver(deliveryId: number, messageId: string): Record<string, unknown> {
  return {
    type: 'deliver',
    delivery_id: deliveryId,
    message_id: messageId,
    sender: { user_id: BOB, device_id: 1 },
    kind: 'message',
    ciphertext: 'AAAA',
    sent_at: Date.now(),
  };
}

test('after stop(), a delivery still arriving on the closing socket is neither taken in nor acknowledged', async () => {
  const json = Account.generate({ url: 'https://localhost:1', serverName: 'localhost' }, (n) => new Uint8Array(n).fill(5)).toJSON() as unknown as Record<string, unknown>;
  json['address'] = { user_id: ME, device_id: 1 };
  let socket: ServerSide | undefined;
  const client = new Client(Account.fromJSON(json), {
    webSocket: () => (socket = new ServerSide(ME)),
    fetch: async () => ({ ok: false, status: 503, text: async () => '{"code":"storage_unavailable","message":"x"}' }) as never,
  });
  client.start();
  await client.waitOnline(5_000);
  const s = socket as ServerSide;
  // While running, a delivery is taken in (this one does not decrypt: it is still returned, with its error).
  s.push(deliver(1, 'a'.repeat(32)));
  const first = await client.nextMessage(1_000);
  assert.equal(first?.messageId, 'a'.repeat(32));
  client.stop();
  s.push(deliver(2, 'b'.repeat(32)));
  assert.equal(await client.nextMessage(300), undefined, 'nothing taken in after stop()');
  const acked = s.received.filter((f) => f['type'] === 'ack' && JSON.stringify(f['delivery_ids']).includes('2'));
  assert.deepEqual(acked, [], 'and not acknowledged: the server keeps it');
});
