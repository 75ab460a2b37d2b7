/**
 * Commits sent and not yet acknowledged, by ref. A commit is acknowledged when
 * its own event comes back with its ref (PROTOCOL.md §5), refused by `rejected`,
 * and given up after the timeout; each is kept as sent, so that it can be sent
 * again when the publisher connection is remade.
 */
import type { Sent } from "./requests.js";

interface Pending {
  sent: Sent;
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class PendingCommits {
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly timeoutMs: number) {}

  /** Resolves with the seq the commit `ref` is published at. */
  expect(ref: number, sent: Sent): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => this.reject(ref, new Error(`commit ${ref} was not acknowledged within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending.set(ref, { sent, resolve, reject, timer });
    });
  }

  /** The commit's last piece went out: its time to be acknowledged starts now. */
  sent(ref: number): void {
    this.pending.get(ref)?.timer.refresh();
  }

  acknowledge(ref: number, seq: number): void {
    this.settle(ref)?.resolve(seq);
  }

  reject(ref: number, error: Error): void {
    this.settle(ref)?.reject(error);
  }

  /** What is still waiting, oldest first. */
  outstanding(): Sent[] {
    return [...this.pending.values()].map((pending) => pending.sent);
  }

  failAll(error: Error): void {
    for (const ref of [...this.pending.keys()]) this.reject(ref, error);
  }

  private settle(ref: number): Pending | undefined {
    const pending = this.pending.get(ref);
    if (!pending) return undefined;
    clearTimeout(pending.timer);
    this.pending.delete(ref);
    return pending;
  }
}
