/**
 * The few host facilities the protocol client needs, typed here so that the
 * code compiles against the ES2022 library alone (no DOM, no Node types) and
 * runs in a browser and in Node 20 alike. Each is injected or, by default,
 * taken from `globalThis`.
 */

/** A `ReadableStreamDefaultReader` of bytes, as far as this client uses it. */
export interface ByteReader {
  read(): Promise<{ done: false; value: Uint8Array } | { done: true; value?: undefined }>;
  cancel(reason?: unknown): Promise<void>;
  releaseLock(): void;
}

/** A `ReadableStream<Uint8Array>` (browser streams, `fetch` bodies, `Blob.stream()`). */
export interface ByteStream {
  getReader(): ByteReader;
}

/** A `Blob` or `File`, as far as this client uses it. */
export interface BlobLike {
  readonly size: number;
  stream(): ByteStream;
}

/** What this client sends as a request body. */
export type RequestBody = string | Uint8Array | BlobLike | ByteStream;

/** The subset of `fetch`'s response this client reads. */
export interface FetchResponse {
  readonly status: number;
  readonly ok: boolean;
  text(): Promise<string>;
  /** The body as a stream (downloads read it chunk by chunk; `arrayBuffer` if absent). */
  readonly body?: ByteStream | null;
  arrayBuffer?(): Promise<ArrayBuffer>;
}

/** The subset of `fetch`'s init this client passes. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: RequestBody;
  /** `'half'` with a stream body (the Fetch standard requires it). */
  duplex?: 'half';
}

/** `fetch` as this client calls it. */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** The browser WebSocket API, as far as this client uses it (the `ws` package implements it too). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a WebSocket to a `wss://` URL. */
export type WebSocketFactory = (url: string) => WebSocketLike;

/** WebSocket.OPEN. */
export const WS_OPEN = 1;

/** The pull-based source `new ReadableStream(...)` takes, for bytes. */
export interface PullSource {
  pull(controller: { enqueue(chunk: Uint8Array): void; close(): void; error(e: unknown): void }): Promise<void>;
  cancel(reason?: unknown): Promise<void>;
}

interface Globals {
  fetch?: (url: string, init: FetchInit) => Promise<FetchResponse>;
  ReadableStream?: new (source: PullSource, strategy?: { highWaterMark: number }) => ByteStream;
  Blob?: new (parts: (Uint8Array | BlobLike)[], options?: { type: string }) => BlobLike;
  Request?: new (url: string, init: { method: string; body: unknown; readonly duplex?: string }) => { headers: { has(name: string): boolean } };
  WebSocket?: new (url: string) => WebSocketLike;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  TextDecoder: new (label: string, options: { fatal: boolean }) => { decode(bytes: Uint8Array): string };
}

const g = globalThis as unknown as Globals;

/** The global `fetch`, or an error saying to inject one. */
export function defaultFetch(): FetchLike {
  const f = g.fetch;
  if (f === undefined) throw new Error('no global fetch: pass one in the options');
  return (url, init) => f.call(globalThis, url, init);
}

/** A byte stream pulling from `source` (one chunk buffered), or `undefined` where there are no web streams. */
export function pullStream(source: PullSource): ByteStream | undefined {
  const R = g.ReadableStream;
  return R === undefined ? undefined : new R(source, { highWaterMark: 1 });
}

/** A `Blob` of `parts`, or `undefined` where there is no `Blob`. */
export function makeBlob(parts: (Uint8Array | BlobLike)[]): BlobLike | undefined {
  const B = g.Blob;
  return B === undefined ? undefined : new B(parts, { type: 'application/octet-stream' });
}

/**
 * Whether `fetch` can send a stream as a request body (the feature test of
 * the Fetch standard's `duplex`: a browser without it ignores the option and
 * turns the stream into text, with a `Content-Type`). Chrome has it but
 * streams only over HTTP/2 or QUIC: the caller falls back to a `Blob` when
 * such a request fails.
 */
export function canStreamRequests(): boolean {
  const R = g.Request;
  const S = g.ReadableStream;
  if (R === undefined || S === undefined) return false;
  try {
    let duplexAccessed = false;
    const body = new S({ pull: async () => undefined, cancel: async () => undefined });
    const hasContentType = new R('https://localhost/', {
      method: 'POST',
      body,
      get duplex() {
        duplexAccessed = true;
        return 'half';
      },
    }).headers.has('content-type');
    return duplexAccessed && !hasContentType;
  } catch {
    return false;
  }
}

/** The global `WebSocket`, or an error saying to inject one (Node 20 has none). */
export function defaultWebSocket(): WebSocketFactory {
  const W = g.WebSocket;
  if (W === undefined) throw new Error('no global WebSocket: pass a factory in the options');
  return (url) => new W(url);
}

/** A cancellable timer. */
export function setTimer(fn: () => void, ms: number): () => void {
  const handle = g.setTimeout(fn, ms);
  return () => g.clearTimeout(handle);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimer(resolve, ms);
  });
}

/** Strict UTF-8 decoding (invalid bytes throw). */
export function decodeUtf8(bytes: Uint8Array): string {
  return new g.TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
