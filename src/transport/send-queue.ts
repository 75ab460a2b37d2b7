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
 *
 * One loop sends the queue rather than a promise chained per message: a chain
 * cost several promises a message, which showed in a writer's profile at
 * thousands of commits a second (BENCHMARKS.md, fan-out).
 */
import type * as zmq from "zeromq";

type WritableSocket = zmq.Writable & { sendTimeout: number; readonly closed: boolean };

interface Queued {
  frames: Iterator<Buffer>;
  sent: () => void;
  failed: (error: unknown) => void;
}

export class SendQueue {
  private readonly queue: Queued[] = [];
  private sending = false;

  constructor(private readonly socket: WritableSocket) {
    socket.sendTimeout = 0;
  }

  /** Sends every frame of one message, in order; resolves once libzmq has taken the last. */
  send(frames: Iterable<Buffer>): Promise<void> {
    return new Promise<void>((sent, failed) => {
      this.queue.push({ frames: frames[Symbol.iterator](), sent, failed });
      if (!this.sending) void this.sendQueued();
    });
  }

  /** Sends queued messages until none is left; a message that fails is rejected and the next one goes on. */
  private async sendQueued(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const message = this.queue[0]!;
      try {
        for (let next = message.frames.next(); !next.done; next = message.frames.next()) await this.deliver(next.value);
        message.sent();
      } catch (error) {
        message.failed(error);
      }
      this.queue.shift();
    }
    this.sending = false;
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
