/**
 * Reconnection delays (PROTOCOL.md, "Reconnecting"): 100 ms doubling to
 * 10 s, each with up to a quarter more of random jitter, so that clients
 * cut off together do not come back together.
 */

export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

export class Backoff {
  private current: number;
  private readonly initial: number;
  private readonly max: number;

  constructor(opts: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initial = opts.initialMs ?? 100;
    this.max = opts.maxMs ?? 10_000;
    this.current = this.initial;
  }

  /** The next delay (ms), jitter included; doubles the base for the one after. */
  next(): number {
    const base = this.current;
    this.current = Math.min(base * 2, this.max);
    return Math.round(base + base * 0.25 * this.random());
  }

  /** After a successful connection. */
  reset(): void {
    this.current = this.initial;
  }
}
