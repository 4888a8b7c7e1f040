/**
 * Every domain-separation string and protocol constant of version 1, as
 * SECURITY.md ("Labels and constants") and crypto/src/labels.rs list them.
 * A change to any of them is a new protocol version.
 */

import { utf8 } from './bytes.js';

/** Signed by a device's Ed25519 key, followed by its X25519 identity public key. */
export const IDENTITY_SIGNATURE = utf8('Curbside v1 identity agreement key');
/** Signed by a device's Ed25519 key, followed by u32(prekey id) and the prekey. */
export const SIGNED_PREKEY_SIGNATURE = utf8('Curbside v1 signed prekey');
/** HKDF info of the X3DH shared secret. */
export const X3DH_INFO = utf8('Curbside v1 X3DH');
/** Prefix of the session associated data. */
export const ASSOCIATED_DATA = utf8('Curbside v1 session AD');
/** HKDF info of KDF_RK. */
export const ROOT_KDF_INFO = utf8('Curbside v1 ratchet root');
/** HKDF info expanding a message-key seed into an AEAD key and nonce. */
export const MESSAGE_KEY_INFO = utf8('Curbside v1 message keys');
/** HMAC input deriving a message-key seed from a chain key. */
export const CHAIN_MESSAGE_SEED = 0x01;
/** HMAC input deriving the next chain key. */
export const CHAIN_NEXT = 0x02;
/** Prefix of the data hashed for a safety number. */
export const FINGERPRINT = utf8('Curbside v1 safety number');
/** SHA-256 iterations per safety-number half. */
export const FINGERPRINT_ITERATIONS = 5200;
/** Magic bytes opening an encrypted attachment. */
export const ATTACHMENT_MAGIC = utf8('CBAT');
/** Magic bytes opening a sealed local-store blob. */
export const LOCAL_STORE_MAGIC = utf8('CBLS');
/** 32 bytes of 0xFF before the X3DH input key material (the X3DH spec's F). */
export const X3DH_F = new Uint8Array(32).fill(0xff);
/** The X3DH HKDF salt. */
export const X3DH_SALT = new Uint8Array(32);
/** The message-key HKDF salt. */
export const MESSAGE_KEY_SALT = new Uint8Array(32);

/** A message may make one chain skip at most this many keys. */
export const MAX_SKIP = 1000;
/** At most this many skipped message keys are stored per session (oldest evicted). */
export const MAX_SKIPPED_KEYS = 2000;
/** How many earlier remote ratchet keys a session remembers. */
export const MAX_PREVIOUS_CHAINS = 8;
/** Largest ciphertext (plaintext + tag) of one message: 1 MiB. */
export const MAX_CIPHERTEXT_LEN = 1 << 20;
