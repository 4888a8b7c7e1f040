// A real `curbside serve` and the real CLI for the live tests: the binary
// from CURBSIDE_BIN (default: the workspace's debug build), a temp data
// directory, its self-signed certificate trusted by an https-based fetch
// and by `ws`, both injected into the web client (Node 20 has no WebSocket).

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import WebSocket from 'ws';

import type { ByteStream, FetchLike, WebSocketFactory, WebSocketLike } from '../src/protocol/index.js';

export const BIN = process.env['CURBSIDE_BIN'] ?? '/work/main/target/debug/curbside';
export const PASSPHRASE = 'correct horse battery staple for tests';

/** Whether the binary exists; without it the caller skips, loudly, and fails under CI=true. */
export function binaryMissing(): string | undefined {
  if (existsSync(BIN)) return undefined;
  return `SKIPPED: the curbside binary is missing at ${BIN} (set CURBSIDE_BIN or build it); under CI=true this is a failure`;
}

export interface Server {
  readonly url: string;
  readonly address: string;
  readonly token: string;
  readonly dataDir: string;
  readonly certPath: string;
  readonly certPem: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `curbside serve` on a free port (127.0.0.1:0) and reads its address and bootstrap token; `env`: settings such as `CURBSIDE_LIMITS__MAX_ATTACHMENT_BYTES`. */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'curbside-web-live-'));
  const proc = spawn(BIN, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  proc.stderr?.resume();
  const { address, token } = await new Promise<{ address: string; token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 30_000);
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const a = /listening on https:\/\/([0-9.:]+)/.exec(out);
      const t = /(cbs_boot_[A-Za-z0-9_-]+)/.exec(out);
      if (a?.[1] && t?.[1]) {
        clearTimeout(timer);
        resolve({ address: a[1], token: t[1] });
      }
    });
  });
  const certPath = join(dataDir, 'tls', 'cert.pem');
  const certPem = readFileSync(certPath, 'utf8');
  return {
    url: `https://${address}`,
    address,
    token,
    dataDir,
    certPath,
    certPem,
    proc,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs the CLI with the test passphrase; its stdout. */
export function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      BIN,
      args,
      { env: { ...process.env, CURBSIDE_PASSPHRASE: PASSPHRASE, NO_COLOR: '1' }, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`curbside ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
        else resolve(stdout + stderr);
      },
    );
  });
}

/**
 * A `fetch` over node:https trusting only the server's certificate. Bodies
 * as the web client sends them: text, bytes, a `Blob` (with its length) or a
 * stream (chunked, and, as the Fetch standard requires, only with `duplex:
 * 'half'`); the answer's body as a web stream, as `fetch` gives it. As a
 * browser does, a request that fails on a kept-alive connection the server
 * had closed (after refusing an upload early, say) is sent once more on a
 * new one, unless its body was a one-shot stream (Node's `reusedSocket`).
 */
export function httpsFetch(ca: string): FetchLike {
  const attempt: FetchLike = (url, init) =>
    new Promise((resolve, reject) => {
      const body = init.body;
      const headers: Record<string, string | number> = { ...init.headers };
      if (typeof body === 'string') headers['content-length'] = Buffer.byteLength(body);
      else if (body instanceof Uint8Array) headers['content-length'] = body.length;
      else if (body !== undefined && 'size' in body) headers['content-length'] = body.size;
      else if (body !== undefined && init.duplex !== 'half') {
        reject(new TypeError('RequestInit: duplex option is required when sending a body'));
        return;
      }
      const req = request(url, { method: init.method, headers, ca, servername: 'localhost' }, (res) => {
        const status = res.statusCode ?? 0;
        const stream = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
        const bytes = async (): Promise<Buffer> => {
          const chunks: Uint8Array[] = [];
          for await (const c of stream) chunks.push(c);
          return Buffer.concat(chunks);
        };
        resolve({
          status,
          ok: status >= 200 && status < 300,
          body: stream as unknown as ByteStream,
          text: async () => (await bytes()).toString('utf8'),
          arrayBuffer: async () => {
            const b = await bytes();
            return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
          },
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const repeatable = body === undefined || typeof body === 'string' || body instanceof Uint8Array || 'size' in body;
        if (req.reusedSocket && repeatable && (e.code === 'ECONNRESET' || e.message === 'socket hang up')) resolve(attempt(url, { ...init, headers: { ...init.headers } }));
        else reject(e);
      });
      if (body === undefined) {
        req.end();
      } else if (typeof body === 'string' || body instanceof Uint8Array) {
        req.end(body);
      } else {
        const source = ('size' in body ? body.stream() : body) as unknown as ReadableStream<Uint8Array>;
        void (async () => {
          try {
            for await (const c of source) {
              if (!req.write(c)) await new Promise((r) => req.once('drain', r));
            }
            req.end();
          } catch (e) {
            req.destroy(e instanceof Error ? e : new Error(String(e)));
          }
        })();
      }
    });
  return attempt;
}

/** `ws` trusting only the server's certificate. */
export function wsFactory(ca: string): WebSocketFactory {
  return (url) => new WebSocket(url, { ca }) as unknown as WebSocketLike;
}

/** A valid NPI from nine digits (Luhn over 80840 ‖ the nine digits). */
export function npi(nine: string): string {
  const digits = `80840${nine}`.split('').map(Number);
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i] as number;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${nine}${(10 - (sum % 10)) % 10}`;
}

/** A temp directory for CLI profiles. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'curbside-web-profiles-'));
}

/** The first user id in a text. */
export function userIdIn(text: string): string {
  const m = /u[0-9a-f]{24}/.exec(text);
  if (!m) throw new Error(`no user id in: ${text}`);
  return m[0];
}

/** A real PNG of `width`×`height` pixels (8-bit RGB, a gradient), built here: what a browser decodes to those dimensions. */
export function png(width: number, height: number): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Uint8Array): number => {
    let c = 0xffffffff;
    for (const b of bytes) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) rows.set([(x * 255) / Math.max(1, width - 1), (y * 255) / Math.max(1, height - 1), 160], row + 1 + x * 3);
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Uint8Array(Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', new Uint8Array(0))]));
}
