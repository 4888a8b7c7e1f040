// The server's side of a WebSocket for unit tests of the real protocol
// Client: it says hello, accepts any auth, answers directory searches with
// nothing, and pushes whatever the test gives it (whatever the socket's
// state: as a real socket may still deliver frames while it closes).

import type { WebSocketLike } from '../src/protocol/platform.js';

/** The server's side of one connection: hello, auth_ok, then whatever the test pushes; pings answered. */
export class ServerSide implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly received: Record<string, unknown>[] = [];
  constructor(private readonly me: string) {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
      this.push({ type: 'hello', versions: [1], challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', server_name: 'localhost', max_frame_bytes: 1 << 20, auth_deadline_ms: 10_000 });
    }, 0);
  }
  push(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  send(data: string): void {
    const f = JSON.parse(data) as Record<string, unknown>;
    this.received.push(f);
    if (f['type'] === 'auth') setTimeout(() => this.push({ type: 'auth_ok', version: 1, user_id: this.me, device_id: 1, one_time_prekeys: 100 }), 0);
    if (f['type'] === 'directory_search') setTimeout(() => this.push({ type: 'directory_results', id: f['id'], clinicians: [] }), 0);
  }
  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code: 1000, reason: '' }), 0);
  }
}

