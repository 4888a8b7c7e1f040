/**
 * The wire protocol of PROTOCOL.md for the web client: frames, transcripts,
 * the HTTP APIs and the authenticated WebSocket. No DOM and no Node
 * modules: `fetch` and `WebSocket` are injected or taken from `globalThis`.
 *
 * - `base64.ts`: strict padded base64.
 * - `errors.ts`: {@link ServerError}, {@link TransportError}, {@link ProtocolError}.
 * - `frames.ts`: the frame types, checked parsing of server frames.
 * - `transcript.ts`: what a device signs (authentication, enrollment).
 * - `http.ts`: enrollment, session tokens, the directory, attachment blobs.
 * - `connection.ts`: hello → auth → auth_ok, then requests routed by id.
 * - `platform.ts`: the host facilities (fetch, WebSocket, timers, UTF-8).
 */

export { fromBase64, toBase64 } from './base64.js';
export { isRetryable, ProtocolError, ServerError, TransportError } from './errors.js';
export * from './frames.js';
export * from './transcript.js';
export { DeviceHttp, HttpApi, type AttachmentStoredJson, type DirectoryQuery, type EnrollRequestJson, type EnrollResponseJson, type SessionToken } from './http.js';
export { Connection, PROTOCOL_VERSION, REQUEST_TIMEOUT_MS, webSocketUrl, type CloseInfo, type ConnectOptions } from './connection.js';
export type { BlobLike, ByteReader, ByteStream, FetchInit, FetchLike, FetchResponse, RequestBody, WebSocketFactory, WebSocketLike } from './platform.js';
