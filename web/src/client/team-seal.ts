/**
 * A care team message's sealing (SECURITY.md, "Message content and care
 * teams"; `client/src/team.rs`): the content is encrypted once under a
 * fresh 32-byte key (ChaCha20-Poly1305, zero nonce, AAD =
 * `"curbside team message v1" ‖ 0 ‖ team id ‖ 0 ‖ message id`) and only
 * the `team_message` envelope (key + sealed bytes) goes through each
 * member device's pairwise session. Pure functions; `./teams.ts` keeps the
 * teams and their conversations.
 */

import { concat, toHex, utf8 } from '../crypto/bytes.js';
import { aeadOpen, aeadSeal, drawRandom, KEY_LEN, NONCE_LEN, systemRandom, type RandomSource } from '../crypto/primitives.js';
import { fromBase64, toBase64 } from '../protocol/base64.js';
import { ProtocolError } from '../protocol/errors.js';
import { decodeContent, encodeContent, type AttachmentRef, type Content } from './content.js';

/**
 * What a team message carries once opened; `recalled`: its sender recalled
 * it, the content (and any attachment key) is deleted here.
 */
export type TeamContent = { type: 'text'; text: string } | { type: 'attachment'; file: AttachmentRef } | { type: 'recalled' };

const AAD_LABEL = 'curbside team message v1';

function aad(teamId: string, messageId: string): Uint8Array {
  return concat(utf8(AAD_LABEL), new Uint8Array([0]), utf8(teamId), new Uint8Array([0]), utf8(messageId));
}

/** Encrypts a team message's content once under a fresh key: the `team_message` envelope. */
export function sealTeamMessage(teamId: string, messageId: string, content: Content, rng: RandomSource = systemRandom): Content {
  const key = drawRandom(rng, KEY_LEN);
  const sealed = aeadSeal(key, new Uint8Array(NONCE_LEN), aad(teamId, messageId), encodeContent(content));
  const envelope: Content = { type: 'team_message', team_id: teamId, key: toBase64(key), sealed: toBase64(sealed) };
  key.fill(0);
  return envelope;
}

/** Opens a team message (text or an attachment only, as the Rust client); throws if it does not open. */
export function openTeamMessage(teamId: string, messageId: string, key: string, sealed: string): TeamContent {
  const k = fromBase64(key, 'key');
  if (k.length !== KEY_LEN) throw new ProtocolError('a team message key is 32 bytes');
  const plain = aeadOpen(k, new Uint8Array(NONCE_LEN), aad(teamId, messageId), fromBase64(sealed, 'sealed'));
  const c = decodeContent(plain);
  plain.fill(0);
  if (c.type === 'text') return { type: 'text', text: c.text };
  if (c.type === 'attachment') return { type: 'attachment', file: c.file };
  throw new ProtocolError('a team message may carry only text or an attachment');
}

/** A fresh team id as the CLI makes them: `t` and 16 random hex digits. */
export function newTeamId(rng: RandomSource = systemRandom): string {
  return `t${toHex(drawRandom(rng, 8))}`;
}
