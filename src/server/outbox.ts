/**
 * Sending on a ROUTER without losing or blocking. libzmq's ROUTER silently drops
 * a message for a peer whose queue is full; with `mandatory` and a zero send
 * timeout it reports EAGAIN instead. Each peer gets a queue of its own with one
 * send in flight at a time (so a retry can never reorder its frames), retried
 * until the peer drains; one slow client never holds up the others. A joined
 * user whose connection is being remade (the port was cut, sockets.ts) is
 * waited for too. A peer that does not drain within the timeout is reported as
 * stalled, and one that leaves more than `maxQueuedBytes` unread as over its
 * bound.
 *
 * A message is queued as the iterable of its frames and is read lazily, one frame
 * per send, so a long reply in pieces (a fetch of a large session) is copied into
 * frames only as the peer takes them, and its frames go out with nothing between.
 */
import * as zmq from "zeromq";

interface Queued {
  frames: Iterator<Buffer>;
  /** What the server holds for this message until it is sent (PROTOCOL.md §2 framesOf: its header and the body it made). */
  bytes: number;
}

interface Peer {
  routingId: Buffer;
  queue: Queued[];
  queuedBytes: number;
  /** The frame taken from the head of the queue and not yet accepted by libzmq. */
  frame: Buffer | null;
  busy: boolean;
  /** When the peer last accepted a frame, or when its queue last became non-empty. */
  progress: number;
}

export interface OutboxEvents {
  /** The peer took nothing for the stall timeout. */
  stalled(routingId: Buffer): void;
  /** The peer left more than the bound unread. */
  overBound(routingId: Buffer, bytes: number): void;
  /** Whether a peer that is not connected now is expected back (a joined user). */
  expected(routingId: Buffer): boolean;
}

const RETRY_MS = 1;

export class Outbox {
  private readonly peers = new Map<string, Peer>();

  constructor(
    private socket: zmq.Router,
    private readonly stallTimeoutMs: number,
    private readonly maxQueuedBytes: number,
    private readonly events: OutboxEvents,
  ) {}

  /** From now on, send on this socket (the port was cut and its socket replaced). */
  useSocket(socket: zmq.Router): void {
    this.socket = socket;
  }

  /** Queues a message's frames for the peer; delivered in order, never dropped while the peer is connected. */
  send(routingId: Buffer, frames: Iterable<Buffer>, bytes: number): void {
    const key = routingId.toString("latin1");
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { routingId, queue: [], queuedBytes: 0, frame: null, busy: false, progress: Date.now() };
      this.peers.set(key, peer);
    }
    if (peer.queue.length === 0) peer.progress = Date.now();
    peer.queue.push({ frames: frames[Symbol.iterator](), bytes });
    peer.queuedBytes += bytes;
    if (peer.queuedBytes > this.maxQueuedBytes) {
      this.peers.delete(key);
      this.events.overBound(routingId, peer.queuedBytes);
      return;
    }
    if (!peer.busy) this.pump(key, peer);
  }

  /** Drops whatever is still queued for a peer (it has left). */
  forget(routingId: Buffer): void {
    this.peers.delete(routingId.toString("latin1"));
  }

  /** Messages waiting in JavaScript, over all peers. */
  pending(): number {
    let count = 0;
    for (const peer of this.peers.values()) count += peer.queue.length;
    return count;
  }

  close(): void {
    this.peers.clear();
  }

  /** The next frame to send to the peer, taking the next message when one is done. */
  private next(peer: Peer): Buffer | null {
    while (!peer.frame && peer.queue.length > 0) {
      const head = peer.queue[0]!;
      const step = head.frames.next();
      if (!step.done) peer.frame = step.value;
      else {
        peer.queue.shift();
        peer.queuedBytes -= head.bytes;
      }
    }
    return peer.frame;
  }

  private pump(key: string, peer: Peer): void {
    if (this.peers.get(key) !== peer) return;
    const frame = this.next(peer);
    if (!frame) {
      this.peers.delete(key);
      return;
    }
    peer.busy = true;
    const socket = this.socket;
    let sending: Promise<void>;
    try {
      sending = socket.send([peer.routingId, frame]);
    } catch (error) {
      sending = Promise.reject(error as Error); // a socket closed under us throws at once
    }
    sending.then(
      () => this.advance(key, peer),
      (error: { code?: string }) => {
        // EAGAIN: the peer's queue is full. A socket closed under us, or a peer not connected, may come back: a joined user will.
        const retry = error.code === "EAGAIN" || ((error.code === "EHOSTUNREACH" || socket.closed) && this.events.expected(peer.routingId));
        if (!retry) {
          this.peers.delete(key); // the peer is gone: nobody to deliver to
          return;
        }
        if (Date.now() - peer.progress > this.stallTimeoutMs) {
          this.peers.delete(key);
          this.events.stalled(peer.routingId);
          return;
        }
        setTimeout(() => this.pump(key, peer), RETRY_MS);
      },
    );
  }

  private advance(key: string, peer: Peer): void {
    peer.frame = null;
    peer.busy = false;
    peer.progress = Date.now();
    this.pump(key, peer);
  }
}
