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

/** A gate on the subscriber port (hold): open once the function hold returned is called. */
interface Gate {
  open: boolean;
}

/** An event accepted and waiting to go out: for the journal, for a gate, or behind an earlier one. */
interface Waiting {
  seq: number;
  frames: Buffer[];
  /** The journal holds it (at once, without a journal). */
  durable: boolean;
  /** The gate that was closed when it was published, if any: it waits for that gate to open. */
  gate: Gate | null;
  /** settled() callers waiting for it to go out. */
  settled: Array<() => void>;
}

const SETTLED = Promise.resolve();
/** A send to the PUB fails only when the socket closed meanwhile: every subscriber then resyncs on reconnect. */
const ignore = () => {};

export class Broadcaster {
  /**
   * Events waiting to go out, in seq order; each goes once it is durable, its
   * gate is open and every earlier one has gone. Callbacks rather than a promise
   * chain: at a few hundred events a second each event has its turn of the
   * event loop to itself, and a chain of promises per event was a visible part
   * of its cost (BENCHMARKS.md, paced).
   */
  private readonly waiting: Waiting[] = [];
  /** The gate set by the last hold, while it is closed. */
  private gate: Gate | null = null;
  /** The journal failed: nothing is published any more (the server is stopping). */
  private failed = false;
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
    const frames = eventFrames(event, parts, this.frameBytes);
    this.session.apply(event, viewsOfFrame(frames, parts));
    if (!this.journal && !this.gate && this.waiting.length === 0) {
      this.send(event.seq, frames);
      return event;
    }
    const waiting: Waiting = { seq: event.seq, frames, durable: !this.journal, gate: this.gate, settled: [] };
    this.waiting.push(waiting);
    this.journal?.appendThen({ seq: event.seq, header: event, frames: parts }, (error) => {
      if (error) return this.fail(error);
      waiting.durable = true;
      this.sendWaiting();
    });
    return event;
  }

  /** Sends, in order, every waiting event whose turn has come. */
  private sendWaiting(): void {
    while (this.waiting.length > 0) {
      const head = this.waiting[0]!;
      if (!this.failed && (!head.durable || (head.gate && !head.gate.open))) return;
      this.waiting.shift();
      if (!this.failed) this.send(head.seq, head.frames);
      for (const resolve of head.settled) resolve();
    }
  }

  private send(seq: number, frames: Buffer[]): void {
    this.history.add(seq, frames);
    this.sendToSubscribers(frames);
    this.publishedSeq = seq;
  }

  /** A journal write or sync failed: nothing more is published, since what follows may not be replayed after it. */
  private fail(error: Error): void {
    if (!this.failed) {
      this.failed = true;
      this.onFatal(error);
    }
    this.sendWaiting(); // settles whoever waits, publishing nothing
  }

  /** From now on, publish on this socket (the subscriber socket was replaced). */
  useSocket(socket: zmq.Publisher): void {
    this.out = socket;
  }

  /** Holds everything published from now on (the subscriber listener is closing); the function returned lets it go. */
  hold(): () => void {
    const gate: Gate = { open: false };
    this.gate = gate;
    return () => {
      gate.open = true;
      if (this.gate === gate) this.gate = null;
      this.sendWaiting();
    };
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
    for (const frame of frames) this.out.send(frame).catch(ignore);
  }

  /** Published events after `since`, exactly as they went out; null when some are no longer held. */
  eventsSince(since: number): PublishedEvent[] | null {
    return this.history.since(since);
  }

  /** Resolves once everything accepted so far is durable and published: replies that reveal state wait for it. */
  settled(): Promise<void> {
    const last = this.waiting.at(-1);
    if (!last) return SETTLED;
    return new Promise((resolve) => last.settled.push(resolve));
  }
}

/**
 * A commit's parts as views of its event's frame, where that saves a copy: the
 * history keeps the frame it published, so a node that is a view of it costs no
 * memory of its own (a session whose every event is a node of 10 KiB held each
 * node twice, once in the history). Only a part of at least half the frame: a
 * small node must not keep a large frame alive. An event in pieces keeps its parts.
 */
function viewsOfFrame(frames: readonly Buffer[], parts: readonly Buffer[]): readonly Buffer[] {
  if (frames.length !== 1 || parts.length === 0) return parts;
  const frame = frames[0]!;
  let at = frame.length;
  for (const part of parts) at -= part.length; // the parts end the frame, in order (events.ts)
  return parts.map((part) => {
    const view = part.length * 2 >= frame.length ? frame.subarray(at, at + part.length) : part;
    at += part.length;
    return view;
  });
}
