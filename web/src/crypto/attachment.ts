/**
 * Chunked encryption of attachments of any size (SECURITY.md,
 * "Attachments"; crypto/src/attachment.rs), a STREAM construction:
 *
 * ```text
 * blob    = "CBAT" ‖ 0x01 ‖ u32(chunk_size = 65536) ‖ chunk_0 ‖ … ‖ chunk_k
 * chunk_i = ChaCha20-Poly1305(key, nonce_i, plaintext_i, aad = the 9 header bytes)
 * nonce_i = 0x000000 ‖ u64(i) ‖ last        last = 0x01 for the final chunk, else 0x00
 * ```
 *
 * Every chunk but the last holds exactly `chunk_size` plaintext bytes
 * (`chunk_size + 16` sealed); the last holds fewer, possibly zero. A reader
 * therefore decides from the length alone: a full-length sealed chunk is
 * never the last, whatever follows it, and what remains at the end of the
 * stream (shorter) is. Truncation, even at a chunk boundary, reordering,
 * duplication and any flipped bit fail. A reader accepts chunk sizes
 * 1024..1 MiB from the header. The SHA-256 of the whole blob travels with
 * the key inside the ratchet message and is checked at the final chunk.
 *
 * Both directions work on `Uint8Array` pieces of any size and hold at most
 * one chunk: {@link AttachmentEncryptor} and {@link AttachmentDecryptor} are
 * push-style, and {@link encryptingTransformer} / {@link decryptingTransformer}
 * adapt them to `new TransformStream(...)` (browser file streams, `fetch`
 * bodies) without this module touching any stream itself. Plaintext is
 * released chunk by chunk before the final digest is checked: on any error,
 * discard everything already released.
 */

import { concat, constantTimeEqual, equalBytes, Reader, u32, u8 } from './bytes.js';
import { CryptoError, decodeError } from './errors.js';
import { ATTACHMENT_MAGIC } from './labels.js';
import { aeadOpen, aeadSeal, drawRandom, KEY_LEN, NONCE_LEN, sha256Hasher, TAG_LEN, type RandomSource, type Sha256Hasher } from './primitives.js';

/** Plaintext bytes per chunk written by this version (64 KiB). */
export const CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK = 1024;
const MAX_CHUNK = 1 << 20;
const VERSION = 1;
/** Length of the blob header. */
export const ATTACHMENT_HEADER_LEN = 9;

/** What the sender puts in the ratchet message so that the receiver can fetch, verify and decrypt the blob. */
export interface AttachmentInfo {
  /** The per-file key (32 bytes). */
  readonly key: Uint8Array;
  /** SHA-256 of the whole encrypted blob. */
  readonly digest: Uint8Array;
  readonly ciphertextLen: number;
  readonly plaintextLen: number;
}

function headerBytes(chunkSize: number): Uint8Array {
  return concat(ATTACHMENT_MAGIC, u8(VERSION), u32(chunkSize));
}

/** The nonce of chunk `index`: 0x000000 ‖ u64(index) ‖ last. */
export function chunkNonce(index: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(NONCE_LEN);
  new DataView(nonce.buffer).setBigUint64(3, BigInt(index), false);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** A fresh attachment key (32 bytes from `rng`). */
export function generateAttachmentKey(rng: RandomSource): Uint8Array {
  return drawRandom(rng, KEY_LEN);
}

/** Encrypts a stream of plaintext pieces. Call `update` for each piece, then `finish` once. */
export class AttachmentEncryptor {
  private readonly key: Uint8Array;
  private readonly header = headerBytes(CHUNK_SIZE);
  private readonly hasher: Sha256Hasher = sha256Hasher();
  private buffer = new Uint8Array(CHUNK_SIZE);
  private buffered = 0;
  private index = 0;
  private started = false;
  private finished = false;
  private ciphertextLen = 0;
  private plaintextLen = 0;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_LEN) throw new CryptoError('invalid_key');
    this.key = Uint8Array.from(key);
  }

  private emit(out: Uint8Array[], bytes: Uint8Array): void {
    this.hasher.update(bytes);
    this.ciphertextLen += bytes.length;
    out.push(bytes);
  }

  private start(out: Uint8Array[]): void {
    if (this.finished) throw new Error('attachment encryptor already finished');
    if (!this.started) {
      this.started = true;
      this.emit(out, this.header);
    }
  }

  private sealChunk(out: Uint8Array[], last: boolean): void {
    const plaintext = this.buffer.subarray(0, this.buffered);
    this.emit(out, aeadSeal(this.key, chunkNonce(this.index, last), this.header, plaintext));
    this.index += 1;
    this.buffered = 0;
  }

  /** Absorbs plaintext; returns the ciphertext ready so far (the header first), possibly empty. */
  update(data: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    this.start(out);
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(CHUNK_SIZE - this.buffered, data.length - offset);
      this.buffer.set(data.subarray(offset, offset + n), this.buffered);
      this.buffered += n;
      this.plaintextLen += n;
      offset += n;
      // A full chunk is never the last one (the last holds fewer bytes): seal it now.
      if (this.buffered === CHUNK_SIZE) this.sealChunk(out, false);
    }
    return concat(...out);
  }

  /** Seals the final chunk: the last ciphertext bytes and what the receiver needs. */
  finish(): { tail: Uint8Array; info: AttachmentInfo } {
    const out: Uint8Array[] = [];
    this.start(out);
    this.sealChunk(out, true);
    this.finished = true;
    this.buffer.fill(0);
    const info: AttachmentInfo = {
      key: Uint8Array.from(this.key),
      digest: this.hasher.digest(),
      ciphertextLen: this.ciphertextLen,
      plaintextLen: this.plaintextLen,
    };
    return { tail: concat(...out), info };
  }
}

/** Decrypts a stream of ciphertext pieces. Call `update` for each piece, then `finish` once. */
export class AttachmentDecryptor {
  private readonly key: Uint8Array;
  private readonly expectedDigest: Uint8Array | undefined;
  private readonly hasher: Sha256Hasher = sha256Hasher();
  private header: Uint8Array | undefined;
  private sealedChunkLen = 0;
  private pending: Uint8Array = new Uint8Array(0);
  private index = 0;
  private done = false;

  /** `expectedDigest` (from the ratchet message) is checked at the final chunk. */
  constructor(key: Uint8Array, expectedDigest?: Uint8Array) {
    if (key.length !== KEY_LEN) throw new CryptoError('invalid_key');
    this.key = Uint8Array.from(key);
    this.expectedDigest = expectedDigest === undefined ? undefined : Uint8Array.from(expectedDigest);
  }

  private readHeader(bytes: Uint8Array): void {
    const r = new Reader(bytes);
    if (!equalBytes(r.take(4), ATTACHMENT_MAGIC)) throw decodeError('invalid_tag');
    r.version(VERSION);
    const chunkSize = r.u32();
    if (chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK) throw decodeError('out_of_range');
    this.header = bytes;
    this.sealedChunkLen = chunkSize + TAG_LEN;
    this.hasher.update(bytes);
  }

  private openChunk(sealed: Uint8Array, last: boolean): Uint8Array {
    const header = this.header as Uint8Array;
    let plaintext: Uint8Array;
    try {
      plaintext = aeadOpen(this.key, chunkNonce(this.index, last), header, sealed);
    } catch {
      throw new CryptoError(last ? 'truncated' : 'decryption_failed');
    }
    this.hasher.update(sealed);
    this.index += 1;
    return plaintext;
  }

  /** Absorbs ciphertext; returns the plaintext of every full chunk completed so far, possibly empty. */
  update(data: Uint8Array): Uint8Array {
    if (this.done) throw new Error('attachment decryptor already finished');
    this.pending = concat(this.pending, data);
    if (this.header === undefined) {
      if (this.pending.length < ATTACHMENT_HEADER_LEN) return new Uint8Array(0);
      this.readHeader(this.pending.slice(0, ATTACHMENT_HEADER_LEN));
      this.pending = this.pending.slice(ATTACHMENT_HEADER_LEN);
    }
    const out: Uint8Array[] = [];
    let offset = 0;
    while (this.pending.length - offset >= this.sealedChunkLen) {
      out.push(this.openChunk(this.pending.subarray(offset, offset + this.sealedChunkLen), false));
      offset += this.sealedChunkLen;
    }
    this.pending = this.pending.slice(offset);
    return concat(...out);
  }

  /** The end of the stream: opens the final chunk, checks the digest, returns the last plaintext. */
  finish(): Uint8Array {
    if (this.done) throw new Error('attachment decryptor already finished');
    this.done = true;
    if (this.header === undefined) throw new CryptoError('truncated');
    if (this.pending.length < TAG_LEN) throw new CryptoError('truncated');
    const plaintext = this.openChunk(this.pending, true);
    if (this.expectedDigest !== undefined && !constantTimeEqual(this.hasher.digest(), this.expectedDigest)) {
      throw new CryptoError('digest_mismatch');
    }
    return plaintext;
  }
}

/** Encrypts a whole file held in memory with a fresh key. */
export function encryptAttachment(plaintext: Uint8Array, rng: RandomSource): { blob: Uint8Array; info: AttachmentInfo } {
  const encryptor = new AttachmentEncryptor(generateAttachmentKey(rng));
  const head = encryptor.update(plaintext);
  const { tail, info } = encryptor.finish();
  return { blob: concat(head, tail), info };
}

/** Decrypts a whole blob held in memory, checking the digest. */
export function decryptAttachment(blob: Uint8Array, key: Uint8Array, digest: Uint8Array): Uint8Array {
  const decryptor = new AttachmentDecryptor(key, digest);
  return concat(decryptor.update(blob), decryptor.finish());
}

/** The part of a `TransformStreamDefaultController` these transformers use. */
export interface ChunkSink {
  enqueue(chunk: Uint8Array): void;
}

/** The shape `new TransformStream(transformer)` takes, for `Uint8Array` in and out. */
export interface ChunkTransformer {
  transform(chunk: Uint8Array, controller: ChunkSink): void;
  flush(controller: ChunkSink): void;
}

function pass(controller: ChunkSink, bytes: Uint8Array): void {
  if (bytes.length > 0) controller.enqueue(bytes);
}

/** A transformer that encrypts a plaintext stream; `onFinish` receives the key, digest and lengths at the end. */
export function encryptingTransformer(key: Uint8Array, onFinish: (info: AttachmentInfo) => void): ChunkTransformer {
  const encryptor = new AttachmentEncryptor(key);
  return {
    transform: (chunk, controller) => pass(controller, encryptor.update(chunk)),
    flush: (controller) => {
      const { tail, info } = encryptor.finish();
      pass(controller, tail);
      onFinish(info);
    },
  };
}

/** A transformer that decrypts a blob stream; the stream errors on tampering, truncation or a wrong digest. */
export function decryptingTransformer(key: Uint8Array, digest: Uint8Array): ChunkTransformer {
  const decryptor = new AttachmentDecryptor(key, digest);
  return {
    transform: (chunk, controller) => pass(controller, decryptor.update(chunk)),
    flush: (controller) => pass(controller, decryptor.finish()),
  };
}
