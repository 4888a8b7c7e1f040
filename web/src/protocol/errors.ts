/**
 * The protocol layer's errors. Messages carry codes and ids, never keys,
 * tokens or content.
 */

/** The server answered with an `error` frame or an HTTP error body. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  constructor(
    /** The stable machine-readable code (PROTOCOL.md, "Error codes"). */
    readonly code: string,
    message: string,
    /** `details` of `stale_devices` and `rate_limited`, as sent. */
    readonly details?: unknown,
    /** The HTTP status, for HTTP answers. */
    readonly status?: number,
  ) {
    super(`${code}: ${message}`);
  }

  /** Whether trying again later (same ids) may succeed, as the Rust client decides. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

const RETRYABLE = new Set(['shutting_down', 'internal', 'rate_limited', 'storage_unavailable']);

/** The connection failed or closed, or a reply did not come in time: try again later. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
}

/** The server sent something this client cannot read (or breaks the protocol). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** Whether an error is worth retrying unchanged (transport trouble or a retryable code). */
export function isRetryable(e: unknown): boolean {
  return e instanceof TransportError || e instanceof ProtocolError || (e instanceof ServerError && e.retryable);
}
