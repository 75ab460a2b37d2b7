/**
 * The one way a change enters the session: it gets the next seq, is applied,
 * is appended to the journal, and only once the journal holds it is it published
 * on the subscriber port (in frames, PROTOCOL.md §2) and kept for resync.
 * Publication keeps seq order.
 */
import type * as zmq from "zeromq";
import { eventFrames } from "./events.js";
import type { History, PublishedEvent } from "./history.js";
import type { Journal } from "./journal/index.js";
import type { Change, SequencedChange, Session } from "./session.js";

export class Broadcaster {
  /** Settles when every change so far has been published. */
  private published: Promise<void> = Promise.resolve();
  /** Publications waiting on the journal or the gate; while any wait, later ones queue behind them. */
  private waiting = 0;
  /** While set, nothing goes out on the subscriber port before it settles. */
  private gate: Promise<void> | null = null;
  private out: zmq.Publisher;
  /** The seq of the last event sent out (pings carry it, PROTOCOL.md §7). */
  publishedSeq: number;

  constructor(
    private readonly session: Session,
    socket: zmq.Publisher,
    private readonly history: History,
    private readonly journal: Journal | null,
    private readonly frameBytes: number,
    private readonly onFatal: (error: Error) => void,
  ) {
    this.out = socket;
    this.publishedSeq = session.seq;
  }

  publish(change: Change, parts: Buffer[] = []): SequencedChange {
    const event = { ...change, seq: this.session.seq + 1 } as SequencedChange;
    this.session.apply(event, parts);
    const frames = eventFrames(event, parts, this.frameBytes);
    const send = () => {
      this.history.add(event.seq, frames);
      this.sendToSubscribers(frames);
      this.publishedSeq = event.seq;
    };
    const waits: Array<Promise<void>> = [];
    if (this.journal) waits.push(this.journal.append({ seq: event.seq, header: event, frames: parts }));
    if (this.gate) waits.push(this.gate);
    if (waits.length === 0 && this.waiting === 0) {
      send();
      return event;
    }
    this.waiting++;
    this.published = Promise.all([this.published, ...waits])
      .then(send, (error: Error) => this.onFatal(error))
      .finally(() => this.waiting--);
    return event;
  }

  /** From now on, publish on this socket (the subscriber socket was replaced). */
  useSocket(socket: zmq.Publisher): void {
    this.out = socket;
  }

  /** Holds everything published from now on until `until` settles (the subscriber listener is closing). */
  holdUntil(until: Promise<void>): void {
    const gate = until.catch(() => {});
    this.gate = gate;
    void gate.then(() => {
      if (this.gate === gate) this.gate = null;
    });
  }

  /** Presence is lossy by design: no seq, no journal, no history. */
  publishPresence(frames: Buffer[]): void {
    this.sendToSubscribers(frames);
  }

  /**
   * Straight to libzmq, in publication order, the frames of one event one after
   * another: the PUB socket has a zero send timeout (sockets.ts), so zeromq.js
   * sends at once and never reports EBUSY; libzmq's PUB never blocks, it drops
   * only for a subscriber whose own queue is full (that subscriber sees the gap
   * and resyncs). No promise chain per event.
   */
  private sendToSubscribers(frames: Buffer[]): void {
    if (this.out.closed) return; // replaced while a publication waited; every subscriber resyncs on reconnect
    for (const frame of frames) this.out.send(frame).catch(() => {});
  }

  /** Published events after `since`, exactly as they went out; null when some are no longer held. */
  eventsSince(since: number): PublishedEvent[] | null {
    return this.history.since(since);
  }

  /** Resolves once everything accepted so far is durable and published: replies that reveal state wait for it. */
  settled(): Promise<void> {
    return this.published;
  }
}
