/**
 * Requests in flight on the command port, matched to replies by `ref`. A reply
 * is one message (in pieces or not), except resync's: the replayed events, which
 * carry no ref, then `resynced`. Each request is kept until its reply comes, so
 * that it can be sent again when the connection is remade (the first reply to
 * a ref wins; PROTOCOL.md §8).
 */
import type { Body, Header, ServerMessage } from "../protocol/index.js";

export interface Sent {
  header: Header;
  body: Body;
}

interface Pending {
  sent: Sent;
  /** Replayed events collected so far (resync only). */
  replayed: ServerMessage[] | null;
  resolve: (reply: { reply: ServerMessage; replayed: ServerMessage[] }) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Requests {
  private readonly pending = new Map<string | number, Pending>();
  private ref = 0;

  constructor(private readonly timeoutMs: number) {}

  nextRef(): number {
    return ++this.ref;
  }

  /** Waits for the reply to `ref`, sent as `sent`; `collects` for a request whose reply is preceded by replayed events. */
  expect(ref: number, sent: Sent, collects = false): Promise<{ reply: ServerMessage; replayed: ServerMessage[] }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error(`no reply from the server within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(ref, { sent, replayed: collects ? [] : null, resolve, reject, timer });
    });
  }

  /** The requests still waiting for their replies, oldest first. */
  outstanding(): Sent[] {
    return [...this.pending.values()].map((pending) => pending.sent);
  }

  deliver(ref: string | number, message: ServerMessage): void {
    const pending = this.pending.get(ref);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(ref);
    pending.resolve({ reply: message, replayed: pending.replayed ?? [] });
  }

  /** A message with no ref (an event replayed by resync) goes to the request collecting them. */
  deliverUnreferenced(message: ServerMessage): void {
    for (const pending of this.pending.values()) {
      if (!pending.replayed) continue;
      pending.replayed.push(message);
      pending.timer.refresh(); // a long replay keeps its request alive
      return;
    }
  }

  fail(ref: string | number | undefined, error: Error): void {
    if (ref === undefined) return;
    const pending = this.pending.get(ref);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(ref);
    pending.reject(error);
  }

  failAll(error: Error): void {
    for (const ref of [...this.pending.keys()]) this.fail(ref, error);
  }
}
