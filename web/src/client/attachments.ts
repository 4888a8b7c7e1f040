/**
 * Files, end to end (PROTOCOL.md, "Attachments"; `src/messages/attachments.rs`
 * of the CLI): a file (a `Blob`/`File`, a byte stream or bytes) is encrypted
 * with SECURITY.md's chunked construction under a fresh key as it is read,
 * the opaque blob uploaded (`POST /v1/attachments`), and an
 * {@link AttachmentRef} returned for an `attachment` message: the server's
 * id, key and SHA-256 of the blob (padded standard base64, 32 bytes each),
 * the name and the plaintext size, as the Rust client writes them.
 *
 * Uploads stream (`fetch` with a stream body and `duplex: 'half'`) where the
 * platform can; elsewhere, and where a streamed request fails (Chrome streams
 * request bodies only over HTTP/2 or QUIC, and the server speaks HTTP/1.1),
 * the ciphertext is gathered into a `Blob` (which browsers may keep on disk)
 * and sent as one body, with a fresh key.
 *
 * {@link downloadAttachment} reads the blob as a stream, one chunk at a time
 * through the decryptor, and returns the plaintext only once every chunk
 * authenticated, the digest matched and the size is the one announced;
 * anything else rejects and nothing is returned. {@link attachmentStream}
 * is the streaming form for large files: its plaintext must be discarded if
 * the stream errors (it errors, at the latest at its end, on any tampering).
 */

import { AttachmentDecryptor, AttachmentEncryptor, CHUNK_SIZE, generateAttachmentKey, type AttachmentInfo } from '../crypto/attachment.js';
import { concat } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { KEY_LEN, type RandomSource } from '../crypto/primitives.js';
import { fromBase64, toBase64 } from '../protocol/base64.js';
import { ProtocolError, TransportError } from '../protocol/errors.js';
import type { DeviceHttp } from '../protocol/http.js';
import { canStreamRequests, makeBlob, pullStream, type BlobLike, type ByteReader, type ByteStream, type FetchResponse } from '../protocol/platform.js';
import type { AttachmentRef } from './content.js';

/** What a file can be given as. A one-shot stream is never streamed to the server (a failed streamed request could not be repeated): it is gathered first. */
export type AttachmentSource = Uint8Array | BlobLike | ByteStream;

export interface UploadOptions {
  /** `true`: stream the request body (fails where `fetch` cannot); `false`: one body; default: stream where supported, falling back. */
  readonly streamUpload?: boolean;
}

/** An uploaded file: the reference to send, and the blob's size on the server. */
export interface Uploaded {
  readonly file: AttachmentRef;
  readonly blobSize: number;
  readonly expiresAt: number;
}

const isBytes = (s: AttachmentSource): s is Uint8Array => s instanceof Uint8Array;
const isBlob = (s: AttachmentSource): s is BlobLike => !isBytes(s) && typeof (s as BlobLike).stream === 'function';

/** Reads `source` piece by piece; `undefined` at its end. */
function pieces(source: AttachmentSource): { next(): Promise<Uint8Array | undefined>; cancel(): void } {
  if (isBytes(source)) {
    let offset = 0;
    return {
      next: async () => {
        if (offset >= source.length) return undefined;
        const piece = source.subarray(offset, offset + CHUNK_SIZE);
        offset += piece.length;
        return piece;
      },
      cancel: () => undefined,
    };
  }
  const reader = (isBlob(source) ? source.stream() : source).getReader();
  return {
    next: async () => {
      for (;;) {
        const r = await reader.read();
        if (r.done) return undefined;
        if (!(r.value instanceof Uint8Array)) throw new TypeError('the file stream must yield Uint8Array chunks');
        if (r.value.length > 0) return r.value;
      }
    },
    cancel: () => void reader.cancel().catch(() => undefined),
  };
}

/** The ciphertext of `source` under `key`, piece by piece; `info()` once the last piece was taken. */
function encrypting(source: AttachmentSource, key: Uint8Array): { next(): Promise<Uint8Array | undefined>; cancel(): void; info(): AttachmentInfo | undefined } {
  const encryptor = new AttachmentEncryptor(key);
  const input = pieces(source);
  let info: AttachmentInfo | undefined;
  let ended = false;
  return {
    next: async () => {
      while (!ended) {
        const piece = await input.next();
        if (piece === undefined) {
          ended = true;
          const done = encryptor.finish();
          info = done.info;
          return done.tail;
        }
        const out = encryptor.update(piece);
        if (out.length > 0) return out;
      }
      return undefined;
    },
    cancel: () => input.cancel(),
    info: () => info,
  };
}

/** Encrypts `source` (fresh key from `rng`) and uploads the blob; the reference for an attachment message named `name`. */
export async function uploadAttachment(
  http: DeviceHttp,
  source: AttachmentSource,
  name: string,
  rng: RandomSource,
  opts: UploadOptions = {},
): Promise<Uploaded> {
  const repeatable = isBytes(source) || isBlob(source);
  const stream = opts.streamUpload ?? (repeatable && canStreamRequests());
  if (stream) {
    try {
      return await uploadOnce(http, source, name, rng, true);
    } catch (e) {
      // A streamed request the platform would not send (HTTP/1.1 in Chrome): once more as one body, if the file can be read again.
      if (!(e instanceof TransportError) || !repeatable || opts.streamUpload === true) throw e;
    }
  }
  return uploadOnce(http, source, name, rng, false);
}

async function uploadOnce(http: DeviceHttp, source: AttachmentSource, name: string, rng: RandomSource, stream: boolean): Promise<Uploaded> {
  const key = generateAttachmentKey(rng);
  const cipher = encrypting(source, key);
  let stored;
  if (stream) {
    const body = pullStream({
      pull: async (controller) => {
        try {
          const piece = await cipher.next();
          if (piece === undefined) controller.close();
          else controller.enqueue(piece);
        } catch (e) {
          controller.error(e);
        }
      },
      cancel: async () => cipher.cancel(),
    });
    if (body === undefined) throw new TransportError('no ReadableStream on this platform');
    stored = await http.uploadAttachment(body, true);
  } else {
    const parts: Uint8Array[] = [];
    for (let p = await cipher.next(); p !== undefined; p = await cipher.next()) parts.push(p);
    stored = await http.uploadAttachment(makeBlob(parts) ?? concat(...parts));
  }
  const info = cipher.info();
  if (info === undefined) throw new ProtocolError('the server answered before the whole file was sent');
  if (stored.size !== info.ciphertextLen) {
    throw new ProtocolError(`the server stored ${stored.size} bytes of a ${info.ciphertextLen}-byte blob`);
  }
  return {
    file: { attachment_id: stored.attachment_id, key: toBase64(info.key), digest: toBase64(info.digest), name, size: info.plaintextLen },
    blobSize: stored.size,
    expiresAt: stored.expires_at,
  };
}

/** The key and digest of a reference (32 bytes each, strict base64), or a {@link CryptoError} `invalid_key` / `invalid_length`. */
function secrets(file: AttachmentRef): { key: Uint8Array; digest: Uint8Array } {
  let key: Uint8Array;
  let digest: Uint8Array;
  try {
    key = fromBase64(file.key, 'key');
    digest = fromBase64(file.digest, 'digest');
  } catch {
    throw new CryptoError('decode', undefined, 'the attachment key or digest is not base64');
  }
  if (key.length !== KEY_LEN) throw new CryptoError('invalid_key');
  if (digest.length !== 32) throw new CryptoError('invalid_length', undefined, 'the attachment digest is not 32 bytes');
  return { key, digest };
}

/** The body of a download, piece by piece. */
function bodyReader(response: FetchResponse): { next(): Promise<Uint8Array | undefined>; cancel(): void } {
  const body = response.body;
  if (body !== undefined && body !== null) {
    const reader: ByteReader = body.getReader();
    return {
      next: async () => {
        let r;
        try {
          r = await reader.read();
        } catch (e) {
          throw new TransportError(`the download was interrupted: ${e instanceof Error ? e.message : String(e)}`);
        }
        return r.done ? undefined : r.value;
      },
      cancel: () => void reader.cancel().catch(() => undefined),
    };
  }
  if (response.arrayBuffer === undefined) throw new ProtocolError('the fetch response has neither body nor arrayBuffer');
  let whole: Promise<ArrayBuffer> | undefined = response.arrayBuffer();
  return {
    next: async () => {
      if (whole === undefined) return undefined;
      const pending = whole;
      whole = undefined;
      try {
        return new Uint8Array(await pending);
      } catch (e) {
        throw new TransportError(`the download was interrupted: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    cancel: () => undefined,
  };
}

/** Decrypts a download piece by piece, refusing more plaintext than `size` at once. */
function decrypting(response: FetchResponse, file: AttachmentRef): { next(): Promise<Uint8Array | undefined>; cancel(): void } {
  const { key, digest } = secrets(file);
  const decryptor = new AttachmentDecryptor(key, digest);
  const input = bodyReader(response);
  let total = 0;
  let ended = false;
  const count = (p: Uint8Array): Uint8Array => {
    total += p.length;
    if (total > file.size) throw new CryptoError('decryption_failed', undefined, 'longer than the size the sender gave');
    return p;
  };
  return {
    next: async () => {
      while (!ended) {
        const piece = await input.next();
        if (piece === undefined) {
          ended = true;
          const last = count(decryptor.finish());
          if (total !== file.size) throw new CryptoError('truncated', undefined, 'shorter than the size the sender gave');
          return last;
        }
        const out = count(decryptor.update(piece));
        if (out.length > 0) return out;
      }
      return undefined;
    },
    cancel: () => input.cancel(),
  };
}

/**
 * Downloads, verifies and decrypts the file `file` refers to. Resolves with
 * the plaintext (a `Blob` with `as: 'blob'` where there is one) only once all
 * of it verified: every chunk authenticated, the SHA-256 of the blob is the
 * digest, and its size the one announced. Otherwise it rejects with a
 * {@link CryptoError} (`decryption_failed`, `truncated`, `digest_mismatch`,
 * `invalid_key`...) or the server's error (`not_found` once expired).
 */
export async function downloadAttachment(http: DeviceHttp, file: AttachmentRef, opts: { as: 'blob' }): Promise<BlobLike>;
export async function downloadAttachment(http: DeviceHttp, file: AttachmentRef, opts?: { as?: 'bytes' }): Promise<Uint8Array>;
export async function downloadAttachment(http: DeviceHttp, file: AttachmentRef, opts: { as?: 'bytes' | 'blob' } = {}): Promise<Uint8Array | BlobLike> {
  secrets(file);
  const plain = decrypting(await http.downloadAttachment(file.attachment_id), file);
  const parts: Uint8Array[] = [];
  try {
    for (let p = await plain.next(); p !== undefined; p = await plain.next()) parts.push(p);
  } catch (e) {
    plain.cancel();
    for (const p of parts) p.fill(0);
    throw e;
  }
  if (opts.as === 'blob') {
    const blob = makeBlob(parts);
    if (blob !== undefined) return blob;
  }
  return concat(...parts);
}

/**
 * The plaintext of `file` as a stream, decrypted chunk by chunk as it
 * downloads (memory: one chunk). Chunks are released before the end is
 * verified: if the stream errors (tampering, truncation, a wrong digest or
 * size), discard everything it gave. Use {@link downloadAttachment} to get
 * only verified plaintext.
 */
export async function attachmentStream(http: DeviceHttp, file: AttachmentRef): Promise<ByteStream> {
  secrets(file);
  const plain = decrypting(await http.downloadAttachment(file.attachment_id), file);
  const stream = pullStream({
    pull: async (controller) => {
      try {
        const p = await plain.next();
        if (p === undefined) controller.close();
        else controller.enqueue(p);
      } catch (e) {
        plain.cancel();
        controller.error(e);
      }
    },
    cancel: async () => plain.cancel(),
  });
  if (stream === undefined) throw new ProtocolError('no ReadableStream on this platform');
  return stream;
}
