/**
 * The one error type of the crypto core, mirroring `curbside_crypto::Error`
 * (crypto/src/error.rs) variant for variant, so that both implementations
 * refuse the same inputs for the same reasons. Errors carry no secret
 * material: they are safe to log.
 */

/** Why a byte string could not be decoded (`DecodeError`). */
export type DecodeReason =
  /** The input ended before a complete value was read. */
  | 'unexpected_end'
  /** Bytes were left over after a complete value. */
  | 'trailing_bytes'
  /** A type or flag byte had a value this version does not define. */
  | 'invalid_tag'
  /** A length or count was above its documented maximum. */
  | 'too_long'
  /** A field held a value outside its valid range. */
  | 'out_of_range';

/** Every way an operation of the crypto core can fail (`Error`). */
export type CryptoErrorCode =
  | 'decode'
  | 'unsupported_version'
  | 'invalid_key'
  | 'non_contributory'
  | 'bad_signature'
  | 'decryption_failed'
  | 'duplicate_message'
  | 'too_many_skipped'
  | 'counter_exhausted'
  | 'signed_prekey_mismatch'
  | 'one_time_prekey_mismatch'
  | 'invalid_length'
  | 'truncated'
  | 'digest_mismatch'
  | 'invalid_kdf_params'
  | 'wrong_passphrase_or_corrupt'
  | 'store_key_mismatch';

const MESSAGES: Record<CryptoErrorCode, string> = {
  decode: 'malformed encoding',
  unsupported_version: 'unsupported format version',
  invalid_key: 'invalid key',
  non_contributory: 'key agreement was non-contributory (low-order public key)',
  bad_signature: 'signature verification failed',
  decryption_failed: 'decryption failed',
  duplicate_message: 'message is a duplicate or its key was discarded',
  too_many_skipped: 'message skips more keys than the limit',
  counter_exhausted: 'message counter exhausted',
  signed_prekey_mismatch: 'signed prekey does not match the message',
  one_time_prekey_mismatch: 'one-time prekey does not match the message',
  invalid_length: 'invalid output length',
  truncated: 'attachment is truncated',
  digest_mismatch: 'attachment digest mismatch',
  invalid_kdf_params: 'invalid key-derivation parameters',
  wrong_passphrase_or_corrupt: 'wrong passphrase or corrupt data',
  store_key_mismatch: 'sealed data belongs to a different store key',
};

/** A refused input or a failed operation. `detail` refines `decode`. */
export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  readonly detail: DecodeReason | undefined;

  constructor(code: CryptoErrorCode, detail?: DecodeReason, note?: string) {
    const base = detail === undefined ? MESSAGES[code] : `${MESSAGES[code]}: ${detail.replace('_', ' ')}`;
    super(note === undefined ? base : `${base} (${note})`);
    this.name = 'CryptoError';
    this.code = code;
    this.detail = detail;
  }
}

/** Shorthand for a decode error. */
export function decodeError(reason: DecodeReason): CryptoError {
  return new CryptoError('decode', reason);
}
