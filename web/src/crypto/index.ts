/**
 * Curbside's crypto core in TypeScript: a second, independent
 * implementation of SECURITY.md's construction (protocol version 1), on the
 * noble libraries. Pure functions and classes on `Uint8Array`: no DOM, no
 * network, no storage; randomness comes in as a {@link RandomSource}.
 *
 * ## Layout
 * - `bytes.ts`: the bounded codec (big-endian, flags, no trailing bytes), hex, constant-time compare.
 * - `errors.ts`: {@link CryptoError}, one code per `curbside_crypto::Error` variant.
 * - `labels.ts`: every label and bound.
 * - `primitives.ts`: checked wrappers over X25519, Ed25519, SHA-256/HMAC/HKDF, the two AEADs.
 * - `identity.ts`, `prekeys.ts`: device identities, signed and one-time prekeys, bundles.
 * - `x3dh.ts`: the key agreement and the session associated data.
 * - `message.ts`: the wire formats of prekey and ratchet messages.
 * - `ratchet/`: the Double Ratchet (`session.ts`; `keys.ts` KDF_RK/KDF_CK/message keys;
 *   `chains.ts` the two halves; `skipped.ts` the bounded skipped keys; `state.ts`;
 *   `encoding.ts` the persisted form).
 * - `attachment.ts`: chunked attachment encryption over pieces or streams.
 * - `fingerprint.ts`: safety numbers.
 * - `local-store.ts`: Argon2id + XChaCha20-Poly1305 sealing of the local state.
 */

export { CryptoError, type CryptoErrorCode, type DecodeReason } from './errors.js';
export { constantTimeEqual, fromHex, toHex } from './bytes.js';
export { systemRandom, type RandomSource } from './primitives.js';
export * as labels from './labels.js';
export { IdentityKey, IdentityKeyPair } from './identity.js';
export { OneTimePreKeyPair, PreKeyBundle, SignedPreKey, SignedPreKeyPair, type OneTimePreKey } from './prekeys.js';
export {
  decodeMessage,
  decodePreKeyMessage,
  decodeRatchetMessage,
  encodeHeader,
  encodeMessage,
  HEADER_LEN,
  ratchetPart,
  type Header,
  type Message,
  type PreKeyFields,
  type PreKeyMessage,
  type RatchetMessage,
} from './message.js';
export { Session, type Role } from './ratchet/session.js';
export {
  AttachmentDecryptor,
  AttachmentEncryptor,
  CHUNK_SIZE,
  decryptAttachment,
  decryptingTransformer,
  encryptAttachment,
  encryptingTransformer,
  generateAttachmentKey,
  type AttachmentInfo,
  type ChunkSink,
  type ChunkTransformer,
} from './attachment.js';
export { SafetyNumber, SAFETY_NUMBER_DIGITS } from './fingerprint.js';
export { INSECURE_FOR_TESTS, parseHeader as parseStoreHeader, RECOMMENDED, StoreKey, type KdfParams } from './local-store.js';
