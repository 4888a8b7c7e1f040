// The Double Ratchet's properties: out-of-order delivery across DH steps,
// drops, replays, tampering, the bounds (MAX_SKIP, MAX_SKIPPED_KEYS), the
// transactional decrypt (a refused message leaves the state byte-for-byte
// unchanged), the persisted encoding and prekey-message routing.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_SKIP, MAX_SKIPPED_KEYS } from '../src/crypto/labels.js';
import { decodeMessage, encodeMessage, type Message } from '../src/crypto/message.js';
import { Session } from '../src/crypto/ratchet/session.js';
import { assertCryptoError, SeededRandom, text, toHex } from './helpers.js';
import { assertRefusedUnchanged, Device, established, receiveWire, wireOf } from './ratchet-helpers.js';

interface Sent {
  wire: Uint8Array;
  plaintext: string;
}

test('random turns with reordering, late delivery and drops: every delivered message decrypts once, replays are refused', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const { rng, alice, bob } = established(100 + seed);
    const parties = [
      { name: 'alice', session: alice },
      { name: 'bob', session: bob },
    ] as const;
    const late: { to: Session; sent: Sent }[] = [];
    const delivered: { to: Session; sent: Sent }[] = [];
    let counter = 0;
    let dropped = 0;
    for (let turn = 0; turn < 14; turn++) {
      const from = parties[turn % 2] as (typeof parties)[number];
      const to = parties[(turn + 1) % 2] as (typeof parties)[number];
      const batch: Sent[] = [];
      const n = 1 + rng.below(6);
      for (let i = 0; i < n; i++) {
        const plaintext = `${from.name} ${counter++}`;
        batch.push({ wire: wireOf(from.session.encrypt(text(plaintext))), plaintext });
      }
      // The first in a random order always arrives now (so the receiver learns the chain);
      // the others arrive now, later, or never.
      const [head, ...rest] = rng.shuffle(batch);
      const now = [head as Sent];
      for (const s of rest) {
        const fate = rng.below(3);
        if (fate === 0) now.push(s);
        else if (fate === 1) late.push({ to: to.session, sent: s });
        else dropped++;
      }
      for (const s of now) {
        assert.equal(Buffer.from(receiveWire(to.session, s.wire, rng.source)).toString(), s.plaintext, `seed ${seed}`);
        delivered.push({ to: to.session, sent: s });
      }
    }
    for (const { to, sent } of rng.shuffle(late)) {
      assert.equal(Buffer.from(receiveWire(to, sent.wire, rng.source)).toString(), sent.plaintext, `seed ${seed} late`);
      delivered.push({ to, sent });
    }
    for (const { to, sent } of delivered) assertRefusedUnchanged(to, sent.wire, rng.source, `seed ${seed} replay`);
    // What is left stored is at most the keys of the dropped messages: late ones used theirs.
    assert.ok(alice.skippedKeyCount + bob.skippedKeyCount <= dropped, `seed ${seed}: more keys stored than dropped`);
  }
});

test('a replay on the current or a previous chain is duplicate_message, with no DH', () => {
  const { rng, alice, bob } = established(2);
  const m1 = wireOf(alice.encrypt(text('one')));
  const m2 = wireOf(alice.encrypt(text('two')));
  receiveWire(bob, m2, rng.source);
  receiveWire(bob, m1, rng.source);
  assert.equal(assertRefusedUnchanged(bob, m1, rng.source, 'skipped key reused').code, 'duplicate_message');
  assert.equal(assertRefusedUnchanged(bob, m2, rng.source, 'current chain').code, 'duplicate_message');
  receiveWire(alice, wireOf(bob.encrypt(text('reply'))), rng.source);
  receiveWire(bob, wireOf(alice.encrypt(text('new chain'))), rng.source);
  assert.equal(assertRefusedUnchanged(bob, m2, rng.source, 'previous chain').code, 'duplicate_message');
});

test('replays on the last MAX_PREVIOUS_CHAINS chains are duplicates without DH; older chains are forgotten', () => {
  const { rng, alice, bob } = established(13);
  const perChain: Uint8Array[] = [];
  for (let k = 0; k <= 10; k++) {
    const wire = wireOf(alice.encrypt(text(`chain ${k}`)));
    perChain.push(wire);
    receiveWire(bob, wire, rng.source);
    receiveWire(alice, wireOf(bob.encrypt(text(`ack ${k}`))), rng.source);
  }
  // Bob's current chain is chain 10; he remembers the 8 before it (2..9).
  perChain.forEach((wire, k) => {
    const code = assertRefusedUnchanged(bob, wire, rng.source, `chain ${k}`).code;
    assert.equal(code, k >= 2 ? 'duplicate_message' : 'decryption_failed', `chain ${k}`);
  });
});

test('every single flipped bit of a ratchet message is refused, the session unchanged and still working', () => {
  const { rng, alice, bob } = established(3);
  const wire = wireOf(alice.encrypt(text('tamper with me')));
  for (let i = 0; i < wire.length; i++) {
    for (const bit of [0, 3, 7]) {
      const forged = Uint8Array.from(wire);
      forged[i] = (forged[i] as number) ^ (1 << bit);
      assertRefusedUnchanged(bob, forged, rng.source, `byte ${i} bit ${bit}`);
    }
  }
  assertRefusedUnchanged(bob, wire.slice(0, wire.length - 1), rng.source, 'truncated');
  assertRefusedUnchanged(bob, Uint8Array.from([...wire, 0]), rng.source, 'extended');
  assert.equal(Buffer.from(receiveWire(bob, wire, rng.source)).toString(), 'tamper with me');
});

test('a tampered first prekey message is refused by accept; the top bit of the base key is the one exception', () => {
  const rng = new SeededRandom(4);
  const aliceDevice = new Device(rng.source);
  const bobDevice = new Device(rng.source);
  const alice = Session.initiate(aliceDevice.identity, bobDevice.bundle(), rng.source);
  const wire = wireOf(alice.encrypt(text('first')));
  const baseKeyLast = 2 + 128 + 31;
  for (let i = 0; i < wire.length; i++) {
    const forged = Uint8Array.from(wire);
    forged[i] = (forged[i] as number) ^ (i === baseKeyLast ? 0x40 : 0x80);
    assert.throws(() => bobDevice.accept(decodeMessage(forged), rng.source), `byte ${i}`);
  }
  // X25519 ignores the top bit of a public key (RFC 7748 §5), and the base key is
  // authenticated only through SK: flipping that bit changes neither (SECURITY.md).
  const malleable = Uint8Array.from(wire);
  malleable[baseKeyLast] = (malleable[baseKeyLast] as number) ^ 0x80;
  const { plaintext } = bobDevice.accept(decodeMessage(malleable), rng.source);
  assert.equal(Buffer.from(plaintext).toString(), 'first');
});

test('MAX_SKIP: a message skipping too far in the current or the previous chain is refused, the session unchanged', () => {
  const { rng, alice, bob } = established(5);
  const sent: Uint8Array[] = [];
  for (let i = 0; i <= MAX_SKIP + 1; i++) sent.push(wireOf(alice.encrypt(text(`m${i}`))));
  const tooFar = sent[MAX_SKIP + 1] as Uint8Array;
  assert.equal(assertRefusedUnchanged(bob, tooFar, rng.source, 'current chain').code, 'too_many_skipped');
  // Exactly MAX_SKIP is allowed.
  assert.equal(Buffer.from(receiveWire(bob, sent[MAX_SKIP] as Uint8Array, rng.source)).toString(), `m${MAX_SKIP}`);
  assert.equal(bob.skippedKeyCount, MAX_SKIP);

  // The previous chain: Alice sends 1002 on a new chain; Bob reads only its first,
  // then Alice's next chain says pn = 1002, 1001 past Bob's position.
  const pair = established(6);
  pair.bob.decrypt(pair.alice.encrypt(text('x')), pair.rng.source);
  const first = wireOf(pair.alice.encrypt(text('chain start')));
  for (let i = 0; i < MAX_SKIP + 1; i++) pair.alice.encrypt(text('unread'));
  receiveWire(pair.bob, first, pair.rng.source);
  receiveWire(pair.alice, wireOf(pair.bob.encrypt(text('reply'))), pair.rng.source);
  const next = wireOf(pair.alice.encrypt(text('next chain')));
  assert.equal(assertRefusedUnchanged(pair.bob, next, pair.rng.source, 'previous chain').code, 'too_many_skipped');
});

test('at most MAX_SKIPPED_KEYS are stored, the oldest evicted', () => {
  const { rng, alice, bob } = established(7);
  const firstOfChain: Uint8Array[] = [];
  for (let chain = 0; chain < 3; chain++) {
    let last: Uint8Array | undefined;
    for (let i = 0; i <= MAX_SKIP; i++) {
      const wire = wireOf(alice.encrypt(text(`c${chain} m${i}`)));
      if (i === 0) firstOfChain.push(wire);
      last = wire;
    }
    receiveWire(bob, last as Uint8Array, rng.source); // skips MAX_SKIP keys
    receiveWire(alice, wireOf(bob.encrypt(text('next'))), rng.source);
  }
  assert.equal(bob.skippedKeyCount, MAX_SKIPPED_KEYS);
  // Chain 0's keys were evicted; chain 1's and 2's are there.
  assert.equal(assertRefusedUnchanged(bob, firstOfChain[0] as Uint8Array, rng.source, 'evicted').code, 'duplicate_message');
  assert.equal(Buffer.from(receiveWire(bob, firstOfChain[1] as Uint8Array, rng.source)).toString(), 'c1 m0');
  assert.equal(Buffer.from(receiveWire(bob, firstOfChain[2] as Uint8Array, rng.source)).toString(), 'c2 m0');
  assert.equal(bob.skippedKeyCount, MAX_SKIPPED_KEYS - 2);
});

test('a low-order ratchet key, a wrong AD or another session is refused without changing the session', () => {
  const { rng, alice, bob } = established(8);
  const good = alice.encrypt(text('x'));
  assert.equal(good.kind, 'ratchet');
  if (good.kind !== 'ratchet') return;
  const lowOrder: Message = { ...good, header: { ...good.header, ratchetKey: new Uint8Array(32) } };
  assert.equal(assertRefusedUnchanged(bob, encodeMessage(lowOrder), rng.source, 'low order').code, 'non_contributory');
  const other = established(9);
  assertRefusedUnchanged(bob, wireOf(other.alice.encrypt(text('y'))), rng.source, 'another session');
  assert.equal(Buffer.from(bob.decrypt(good, rng.source)).toString(), 'x');
});

test('the persisted encoding round-trips mid-conversation and the restored session continues', () => {
  const { rng, alice, bob } = established(10);
  const pending = [0, 1, 2].map((i) => wireOf(alice.encrypt(text(`p${i}`))));
  receiveWire(bob, pending[2] as Uint8Array, rng.source); // two skipped keys stored
  const restored = Session.fromBytes(bob.toBytes());
  assert.equal(toHex(restored.toBytes()), toHex(bob.toBytes()));
  assert.equal(restored.skippedKeyCount, 2);
  assert.equal(Buffer.from(receiveWire(restored, pending[0] as Uint8Array, rng.source)).toString(), 'p0');
  receiveWire(alice, wireOf(restored.encrypt(text('from restored'))), rng.source);
  const initiator = Session.fromBytes(alice.toBytes());
  assert.equal(initiator.role, 'initiator');
  assert.equal(toHex(initiator.associatedData), toHex(alice.associatedData));
});

test('prekey routing: a repeated prekey message goes to the existing session, another identity or a new session does not', () => {
  const rng = new SeededRandom(11);
  const aliceDevice = new Device(rng.source);
  const bobDevice = new Device(rng.source);
  const alice = Session.initiate(aliceDevice.identity, bobDevice.bundle(), rng.source);
  const m0 = alice.encrypt(text('first'));
  const m1 = alice.encrypt(text('second, still a prekey message'));
  assert.equal(m1.kind, 'prekey');
  const { session: bob } = bobDevice.accept(m0, rng.source);
  // The second prekey message belongs to the session the first one made.
  assert.equal(Buffer.from(bob.decrypt(m1, rng.source)).toString(), 'second, still a prekey message');
  // A prekey message from another identity is not this session's: decryption_failed, unchanged.
  const mallory = new Device(rng.source);
  const fromMallory = Session.initiate(mallory.identity, bobDevice.bundle(false), rng.source).encrypt(text('hi'));
  assert.equal(assertRefusedUnchanged(bob, wireOf(fromMallory), rng.source, 'other identity').code, 'decryption_failed');
  // Alice starting over (a new session to the same bundle): the old session refuses it,
  // and accepting it as a new session works (what the client does: SECURITY.md).
  const restart = Session.initiate(aliceDevice.identity, bobDevice.bundle(false), rng.source).encrypt(text('again'));
  assertRefusedUnchanged(bob, wireOf(restart), rng.source, 'restarted session');
  assert.equal(Buffer.from(bobDevice.accept(restart, rng.source).plaintext).toString(), 'again');
  // Once Alice has heard back, she sends ratchet messages.
  receiveWire(alice, wireOf(bob.encrypt(text('reply'))), rng.source);
  assert.equal(alice.encrypt(text('now ratchet')).kind, 'ratchet');
});

test('accept refuses prekeys other than the ones the message names', () => {
  const rng = new SeededRandom(12);
  const aliceDevice = new Device(rng.source);
  const bobDevice = new Device(rng.source);
  const withOtk = Session.initiate(aliceDevice.identity, bobDevice.bundle(), rng.source).encrypt(text('a'));
  const withoutOtk = Session.initiate(aliceDevice.identity, bobDevice.bundle(false), rng.source).encrypt(text('b'));
  assert.ok(withOtk.kind === 'prekey' && withoutOtk.kind === 'prekey');
  if (withOtk.kind !== 'prekey' || withoutOtk.kind !== 'prekey') return;
  const b = bobDevice;
  assertCryptoError(() => Session.accept(b.identity, b.signedPreKey, undefined, withOtk, rng.source), 'one_time_prekey_mismatch');
  assertCryptoError(() => Session.accept(b.identity, b.signedPreKey, b.oneTimePreKey, withoutOtk, rng.source), 'one_time_prekey_mismatch');
  const other = new Device(rng.source);
  const spk2 = other.signedPreKey; // id 1 but another key: X3DH gives another SK
  assertCryptoError(() => Session.accept(b.identity, spk2, b.oneTimePreKey, withOtk, rng.source), 'decryption_failed');
  assert.equal(Buffer.from(Session.accept(b.identity, b.signedPreKey, undefined, withoutOtk, rng.source).plaintext).toString(), 'b');
});
