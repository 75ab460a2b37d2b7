/**
 * Sending on a ROUTER without losing or blocking. libzmq's ROUTER silently drops
 * a message for a peer whose queue is full; with `mandatory` and a zero send
 * timeout it reports EAGAIN instead. Each peer gets a queue of its own with one
 * send in flight at a time (so EAGAIN can never reorder its messages), retried
 * until the peer drains; one slow client never holds up the others, and one that
 * does not drain within the timeout is reported as stalled.
 */
import * as zmq from "zeromq";

export type Frames = Array<Buffer | string>;

interface Peer {
  routingId: Buffer;
  queue: Frames[];
  busy: boolean;
  /** When the peer last accepted a message, or when its queue last became non-empty. */
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

  /** Queues `frames` for the peer; delivered in order, never dropped while the peer is connected. */
  send(routingId: Buffer, frames: Frames): void {
    const key = routingId.toString("latin1");
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { routingId, queue: [], busy: false, progress: Date.now() };
      this.peers.set(key, peer);
    }
    if (peer.queue.length === 0) peer.progress = Date.now();
    peer.queue.push(frames);
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

  private pump(key: string, peer: Peer): void {
    const frames = peer.queue[0];
    if (!frames || this.peers.get(key) !== peer) {
      if (this.peers.get(key) === peer && peer.queue.length === 0) this.peers.delete(key);
      return;
    }
    // A reply that was waiting for the journal may come due after the server closed its sockets.
    if (this.socket.closed) {
      this.peers.clear();
      return;
    }
    peer.busy = true;
    this.socket.send([peer.routingId, ...frames]).then(
      () => this.advance(key, peer),
      (error: { code?: string }) => {
        if (error.code !== "EAGAIN") return this.advance(key, peer); // the peer is gone: nobody to deliver to
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
    peer.queue.shift();
    peer.busy = false;
    peer.progress = Date.now();
    this.pump(key, peer);
  }
}
