/**
 * The few host facilities the protocol client needs, typed here so that the
 * code compiles against the ES2022 library alone (no DOM, no Node types) and
 * runs in a browser and in Node 20 alike. Each is injected or, by default,
 * taken from `globalThis`.
 */

/** The subset of `fetch`'s response this client reads. */
export interface FetchResponse {
  readonly status: number;
  readonly ok: boolean;
  text(): Promise<string>;
}

/** The subset of `fetch`'s init this client passes. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
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

interface Globals {
  fetch?: (url: string, init: FetchInit) => Promise<FetchResponse>;
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
