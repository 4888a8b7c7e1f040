// The Devices screen's model and the device enrollment form without a
// browser (a fake server answering `GET /v1/devices`, `POST
// /v1/devices/invites` and revocations): this browser first and marked, the
// code grouped with its link and QR code, the new device noticed by the
// watch, revocation (of this browser: locked out), `device_revoked` from
// the server locking out, each form error naming its field, and the lock-out's
// order (locked, erased, then the locked-out screen).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkDeviceEnrollForm, deviceEnrollProblem, DeviceLinking } from '../src/app/device-link.js';
import { DevicesConsole, type LockOutReason } from '../src/app/devices.js';
import { checkEnrollForm } from '../src/app/enroll-form.js';
import { ServerError } from '../src/protocol/errors.js';

const ME = 'u00000000000000000000000a';
const PASS = 'a passphrase long enough';

function server(): {
  calls: string[];
  devices: { device_id: number; created_at: number; revoked_at: number | null }[];
  fail?: string;
  http: { json(m: 'GET' | 'POST', p: string, b?: unknown): Promise<unknown> };
} {
  const s: ReturnType<typeof server> = {
    calls: [],
    devices: [
      { device_id: 1, created_at: Date.UTC(2025, 0, 2), revoked_at: null },
      { device_id: 2, created_at: Date.UTC(2025, 0, 3), revoked_at: null },
      { device_id: 4, created_at: Date.UTC(2025, 0, 1), revoked_at: Date.UTC(2025, 0, 5) },
    ],
    http: {
      async json(m, p, b) {
        s.calls.push(`${m} ${p}${b === undefined ? '' : ` ${JSON.stringify(b)}`}`);
        if (s.fail !== undefined) throw new ServerError(s.fail, 'refused');
        if (p === '/v1/devices') return s.devices;
        if (p === '/v1/devices/invites') return { invite: 'cbs_dev_AbCdEfGh-_12', expires_at: Date.now() + 15 * 60_000 };
        const r = /^\/v1\/devices\/(\d+)\/revoke$/.exec(p);
        if (r) {
          const d = s.devices.find((x) => x.device_id === Number(r[1]));
          if (d === undefined) throw new ServerError('not_found', 'no such device');
          d.revoked_at = Date.now();
          return null;
        }
        throw new Error(`unexpected ${m} ${p}`);
      },
    },
  };
  return s;
}

function console_(s: ReturnType<typeof server>): { c: DevicesConsole; out: LockOutReason[]; changes: () => number } {
  const out: LockOutReason[] = [];
  let n = 0;
  const c = new DevicesConsole(s.http, { user_id: ME, device_id: 2 }, 'https://curbside.example', () => n++, (r) => out.push(r));
  return { c, out, changes: () => n };
}

test('the list: this browser first and marked, others by number, revoked apart', async () => {
  const s = server();
  const { c } = console_(s);
  await c.refresh();
  assert.deepEqual(c.active.map((d) => [d.id, d.name, d.thisDevice]), [[2, 'This browser', true], [1, 'Device 1', false]]);
  assert.match(c.active[0]?.detail ?? '', /^Device 2, enrolled /);
  assert.match(c.active[1]?.detail ?? '', /^Enrolled /);
  assert.deepEqual(c.revoked.map((d) => [d.id, d.active]), [[4, false]]);
  assert.match(c.revoked[0]?.detail ?? '', /, revoked /);
});

test('a code: grouped for typing, its #invite= link in a QR code, an expiry; the watch sees the new device and hides it', async () => {
  const s = server();
  const { c } = console_(s);
  await c.link();
  assert.ok(s.calls.includes(`POST /v1/devices/invites {"target":{"for":"new_device","user_id":"${ME}"},"expires_in_secs":900}`), s.calls.join('\n'));
  const code = c.code;
  assert.ok(code);
  assert.equal(code.code, 'cbs_dev_AbCdEfGh-_12');
  assert.deepEqual(code.groups, ['AbCd', 'EfGh', '-_12']);
  assert.equal(code.link, 'https://curbside.example/#invite=cbs_dev_AbCdEfGh-_12');
  assert.ok(code.qr.length >= 21);
  assert.match(code.expires, /^Valid once, until .+ \(15 minutes\)\.$/);
  await c.refresh();
  assert.ok(c.code, 'still waiting: no new device yet');
  s.devices.push({ device_id: 5, created_at: Date.now(), revoked_at: null });
  await c.refresh();
  assert.equal(c.code, undefined);
  assert.match(c.outcome?.text ?? '', /^Device 5 is linked/);
  c.stop();
});

test('revoking another device names it; revoking this browser locks it out; device_revoked from the server too', async () => {
  const s = server();
  const { c, out } = console_(s);
  await c.refresh();
  await c.revoke(1);
  assert.ok(s.calls.includes('POST /v1/devices/1/revoke'));
  assert.equal(c.outcome?.text, 'Device 1 is revoked: it no longer receives your messages, and it cannot connect again.');
  assert.deepEqual(c.active.map((d) => d.id), [2]);
  assert.deepEqual(out, []);
  await c.revoke(2);
  assert.deepEqual(out, ['self']);

  const t = server();
  const other = console_(t);
  t.fail = 'device_revoked';
  await other.c.refresh();
  assert.deepEqual(other.out, ['revoked']);
  t.fail = 'not_found';
  await other.c.revoke(9);
  assert.equal(other.c.outcome?.text, 'Device 9 was not revoked. The server does not have this device (it may have been revoked already): reload the list.');
});

test('the device enrollment form: each error on its field, saying what to do; grouped codes and links accepted', () => {
  assert.deepEqual(Object.keys(checkDeviceEnrollForm({ code: '', passphrase: 'short', confirmation: 'other' })), ['code', 'passphrase', 'confirmation']);
  assert.match(checkDeviceEnrollForm({ code: 'cbs_inv_abcd', passphrase: PASS, confirmation: PASS }).code ?? '', /invite for a new account, not a device code/);
  assert.match(checkDeviceEnrollForm({ code: 'hello there', passphrase: PASS, confirmation: PASS }).code ?? '', /^This is not a device code: it starts with cbs_dev_/);
  assert.deepEqual(checkDeviceEnrollForm({ code: ' cbs_dev_ AbCd EfGh\n-_12 ', passphrase: PASS, confirmation: PASS }), {});
  assert.deepEqual(checkDeviceEnrollForm({ code: 'https://localhost:8443/#invite=cbs_dev_AbCd', passphrase: PASS, confirmation: PASS }), {});
  assert.deepEqual(deviceEnrollProblem(new ServerError('invalid_invite', 'x')).field, 'code');
  assert.match(deviceEnrollProblem(new ServerError('invalid_invite', 'x')).text, /typo/);
  assert.match(deviceEnrollProblem(new ServerError('invite_expired', 'x')).text, /^This code has expired/);
  assert.equal(deviceEnrollProblem(new Error('offline')).field, undefined);
  // A device code in the new-user form points to the other choice.
  const e = checkEnrollForm({ invite: 'cbs_dev_AbCd', name: 'X', npi: '', specialty: '', passphrase: PASS, confirmation: PASS });
  assert.match(e.invite ?? '', /device code: choose “I already use Curbside on another device”/);
});

test('the lock-out: the session locked first (its last write), then the sealed state erased, then the locked-out screen; an erasure that fails says so', async () => {
  for (const wipeFails of [false, true]) {
    const steps: string[] = [];
    let session: object | undefined = {};
    const linking = new DeviceLinking({
      vaults: () => ({
        exists: async () => true,
        create: async () => assert.fail('no enrollment here'),
        unlock: async () => 'empty',
        wipe: async () => {
          steps.push('wipe');
          if (wipeFails) throw new Error('quota');
        },
      }),
      host: () => ({ origin: 'https://x', hostname: 'x', claimTab: async () => true }),
      session: () => session as never,
      begin: () => assert.fail('no enrollment here'),
      lock: async () => {
        steps.push('lock');
        session = undefined;
      },
      show: (screen) => steps.push(`show ${screen}`),
      changed: () => undefined,
    });
    await linking.lockOut('revoked');
    assert.deepEqual(steps, ['lock', 'wipe', 'show locked_out']);
    assert.deepEqual(linking.lockedOut, { reason: 'revoked', wiped: !wipeFails });
    await linking.lockOut('revoked'); // once only: no session any more
    assert.equal(steps.length, 3);
    linking.enrollAgain();
    assert.equal(linking.preferred, true, 'the enroll screen opens on linking this browser again');
    assert.equal(steps.at(-1), 'show enroll');
  }
});
