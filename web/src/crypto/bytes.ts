/**
 * Byte helpers and the bounded binary codec every structure uses
 * (crypto/src/codec.rs): big-endian integers, presence flags that are 0 or
 * 1 only, a reader that never reads past its input and rejects trailing
 * bytes.
 */

import { CryptoError, decodeError } from './errors.js';

/** Concatenates byte strings into a new array. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** `u8(x)`. */
export function u8(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff);
}

/** `u32(x)`, big-endian. Refuses values outside 0..2^32-1. */
export function u32(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`not a u32: ${value}`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

/** `u64(x)`, big-endian. */
export function u64(value: bigint): Uint8Array {
  if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`not a u64: ${value}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, false);
  return out;
}

/** A presence flag: 0x01 if present, 0x00 if absent. */
export function flag(present: boolean): Uint8Array {
  return Uint8Array.of(present ? 1 : 0);
}

/**
 * The UTF-8 bytes of a string (as Rust's `str::as_bytes`; a lone surrogate
 * becomes U+FFFD, as `TextEncoder` does). Written out because the core
 * uses no platform API.
 */
export function utf8(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let cp = ch.codePointAt(0) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Uint8Array.from(out);
}

/** True if both arrays hold the same bytes (not constant-time: public data only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Compares two byte strings in time that depends only on their lengths
 * (as far as a JIT allows: no early exit, no data-dependent branch).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Bytewise lexicographic order (as Rust orders `[u8; N]`). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Overwrites secret bytes with zeros (best effort in JS: copies made by the engine are out of reach). */
export function wipe(...arrays: Uint8Array[]): void {
  for (const a of arrays) a.fill(0);
}

/** A cursor over untrusted bytes. Every read is bounded; `finish` refuses trailing bytes. */
export class Reader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** The next `length` bytes (a copy), or `unexpected_end`. */
  take(length: number): Uint8Array {
    if (this.bytes.length - this.offset < length) throw decodeError('unexpected_end');
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(): number {
    return this.take(1)[0] as number;
  }

  u32(): number {
    return new DataView(this.take(4).buffer).getUint32(0, false);
  }

  u64(): bigint {
    return new DataView(this.take(8).buffer).getBigUint64(0, false);
  }

  /** A presence flag: 0 absent, 1 present, anything else `invalid_tag`. */
  flag(): boolean {
    const v = this.u8();
    if (v === 0) return false;
    if (v === 1) return true;
    throw decodeError('invalid_tag');
  }

  /** A format version byte that must equal `expected`, else `unsupported_version`. */
  version(expected: number): void {
    const v = this.u8();
    if (v !== expected) throw new CryptoError('unsupported_version', undefined, `version ${v}`);
  }

  /** Everything that is left (a copy). */
  rest(): Uint8Array {
    const out = this.bytes.slice(this.offset);
    this.offset = this.bytes.length;
    return out;
  }

  /** How many bytes are left. */
  remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Refuses trailing bytes. */
  finish(): void {
    if (this.offset !== this.bytes.length) throw decodeError('trailing_bytes');
  }
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a hex string (even length, hex digits only). */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError('invalid hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
