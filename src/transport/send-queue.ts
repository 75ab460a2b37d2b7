/**
 * zeromq.js allows one pending send per socket at a time: a second one throws
 * EBUSY ("Socket is busy writing"). Messages from concurrent callers go through
 * this queue, in call order, so that none is lost or reordered, and the frames of
 * one message (its pieces, PROTOCOL.md §2) go out one after another with nothing
 * between. Frames are taken from the message's iterable as they are sent, so a
 * large message is never copied into frames all at once.
 *
 * The socket's send timeout is kept at zero: zeromq.js then sends at once
 * without first asking libzmq for the socket's events (a poll system call per
 * send). Only when libzmq reports EAGAIN (the peer's queue is full, or no peer
 * yet) does one send wait for room, with the timeout lifted for it alone.
 */
import type * as zmq from "zeromq";

type WritableSocket = zmq.Writable & { sendTimeout: number; readonly closed: boolean };

export class SendQueue {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: WritableSocket) {
    socket.sendTimeout = 0;
  }

  /** Sends every frame of one message, in order; resolves once libzmq has taken the last. */
  send(frames: Iterable<Buffer>): Promise<void> {
    const sent = this.tail.then(async () => {
      for (const frame of frames) await this.deliver(frame);
    });
    this.tail = sent.catch(() => {});
    return sent;
  }

  private async deliver(frame: Buffer): Promise<void> {
    try {
      return await this.socket.send(frame);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN" || this.socket.closed) throw error;
    }
    this.socket.sendTimeout = -1;
    try {
      await this.socket.send(frame);
    } finally {
      if (!this.socket.closed) this.socket.sendTimeout = 0;
    }
  }
}
