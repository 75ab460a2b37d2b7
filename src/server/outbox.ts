/**
 * Sending on a ROUTER without losing or blocking. libzmq's ROUTER silently drops
 * a message for a peer whose queue is full; with `mandatory` and a zero send
 * timeout it reports EAGAIN instead. Each peer gets a queue of its own with one
 * send in flight at a time (so EAGAIN can never reorder its frames), retried
 * until the peer drains; one slow client never holds up the others, and one that
 * does not drain within the timeout is reported as stalled.
 *
 * A message is queued as the iterable of its frames and is read lazily, one frame
 * per send, so a long reply in pieces (a fetch of a large session) is copied into
 * frames only as the peer takes them, and its frames go out with nothing between.
 */
import * as zmq from "zeromq";

interface Peer {
  routingId: Buffer;
  queue: Array<Iterator<Buffer>>;
  /** The frame taken from the head of the queue and not yet accepted by libzmq. */
  frame: Buffer | null;
  busy: boolean;
  /** When the peer last accepted a frame, or when its queue last became non-empty. */
  progress: number;
}

const RETRY_MS = 1;

export class Outbox {
  private readonly peers = new Map<string, Peer>();

  constructor(
    private readonly socket: zmq.Router,
    private readonly stallTimeoutMs: number,
    private readonly onStalled: (routingId: Buffer) => void,
  ) {}

  /** Queues a message's frames for the peer; delivered in order, never dropped while the peer is connected. */
  send(routingId: Buffer, frames: Iterable<Buffer>): void {
    const key = routingId.toString("latin1");
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { routingId, queue: [], frame: null, busy: false, progress: Date.now() };
      this.peers.set(key, peer);
    }
    if (peer.queue.length === 0) peer.progress = Date.now();
    peer.queue.push(frames[Symbol.iterator]());
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
      const step = peer.queue[0]!.next();
      if (step.done) peer.queue.shift();
      else peer.frame = step.value;
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
    // A reply that was waiting for the journal may come due after the server closed its sockets.
    if (this.socket.closed) {
      this.peers.clear();
      return;
    }
    peer.busy = true;
    this.socket.send([peer.routingId, frame]).then(
      () => this.advance(key, peer),
      (error: { code?: string }) => {
        if (error.code !== "EAGAIN") {
          // The peer is gone: nobody to deliver to.
          this.peers.delete(key);
          return;
        }
        if (Date.now() - peer.progress > this.stallTimeoutMs) {
          this.peers.delete(key);
          this.onStalled(peer.routingId);
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
