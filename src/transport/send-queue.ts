/**
 * zeromq.js allows one pending send per socket at a time: a second one throws
 * EBUSY ("Socket is busy writing"), even on a PUB socket, which libzmq itself
 * never blocks. Sends from concurrent callers go through this queue, in call
 * order, so that none is lost or reordered.
 */
import type * as zmq from "zeromq";

export class SendQueue {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: zmq.Writable) {}

  send(frames: Buffer[]): Promise<void> {
    const sent = this.tail.then(() => this.socket.send(frames));
    this.tail = sent.catch(() => {});
    return sent;
  }
}
