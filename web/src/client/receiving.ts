/**
 * The receiving side of the protocol client (`./client.ts`): what a
 * received message is, the (sender, message id) pairs remembered to drop
 * re-deliveries (as the Rust client, {@link SEEN_CAPACITY}), and the inbox a
 * caller without an `onMessage` handler reads with `nextMessage`.
 */

import type { Address, MessageKind, MessagePriority } from '../protocol/frames.js';
import { setTimer } from '../protocol/platform.js';
import type { Content } from './content.js';

/** How many (sender, message id) pairs are remembered to drop re-deliveries (as the Rust client). */
export const SEEN_CAPACITY = 10_000;

/** A message received and decrypted (or not), not yet acknowledged. */
export interface Received {
  readonly deliveryId: number;
  readonly messageId: string;
  readonly sender: Address;
  readonly kind: MessageKind;
  /** The decoded content, unless decryption failed. */
  readonly content: Content | undefined;
  /** Why it could not be decrypted (a {@link CryptoError} code). */
  readonly error: string | undefined;
  /** The server's acceptance time (ms). */
  readonly sentAt: number;
  /** The envelope's priority (`routine` unless the sender said otherwise). */
  readonly priority: MessagePriority;
  /** An escalation copy: nobody acknowledged the message in time, so it came to this user as the sender's backup. */
  readonly escalated: boolean;
}

/** The last {@link SEEN_CAPACITY} keys, oldest forgotten first (kept in the sealed store). */
export class SeenKeys {
  private readonly order: string[] = [];
  private readonly set = new Set<string>();

  constructor(keys: readonly string[] = []) {
    for (const k of keys) this.remember(k);
  }

  /** Remembers `key`; whether it is new. */
  remember(key: string): boolean {
    if (this.set.has(key)) return false;
    if (this.order.length >= SEEN_CAPACITY) this.set.delete(this.order.shift() as string);
    this.order.push(key);
    this.set.add(key);
    return true;
  }

  toJSON(): string[] {
    return [...this.order];
  }
}

/** Received messages waiting for a reader, in order. */
export class Inbox {
  private readonly items: Received[] = [];
  private waiters: (() => void)[] = [];

  push(r: Received): void {
    this.items.push(r);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next message, waiting up to `timeoutMs`; `undefined` if none came. */
  async next(timeoutMs: number): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const cancel = setTimer(resolve, left);
        this.waiters.push(() => {
          cancel();
          resolve();
        });
      });
    }
    return this.items.shift();
  }
}
