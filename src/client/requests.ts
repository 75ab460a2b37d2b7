/**
 * Requests in flight on the command port, matched to replies by `ref`. A reply
 * may span several messages: up to one with `last: true`, or (for resync) up to
 * the message of the final type, with the replayed events in between.
 */
import type { ServerMessage } from "../protocol/index.js";

type Part = { message: ServerMessage; payload: Buffer[] };

interface Pending {
  parts: Part[];
  finalType: string | undefined;
  resolve: (parts: Part[]) => void;
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

  expect(ref: number, finalType?: string): Promise<Part[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error(`no reply from the server within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(ref, { parts: [], finalType, resolve, reject, timer });
    });
  }

  deliver(ref: string | number, message: ServerMessage, payload: Buffer[]): void {
    const pending = this.pending.get(ref);
    if (!pending) return;
    pending.parts.push({ message, payload });
    // A long reply keeps its request alive while it streams in.
    pending.timer.refresh();
    const done = pending.finalType !== undefined ? message.type === pending.finalType : !("last" in message) || message.last !== false;
    if (!done) return;
    clearTimeout(pending.timer);
    this.pending.delete(ref);
    pending.resolve(pending.parts);
  }

  /** A message with no ref (an event replayed by resync) goes to the request waiting for a final type. */
  deliverUnreferenced(message: ServerMessage, payload: Buffer[]): void {
    for (const pending of this.pending.values()) {
      if (pending.finalType === undefined) continue;
      pending.parts.push({ message, payload });
      pending.timer.refresh();
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
