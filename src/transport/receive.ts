/**
 * Reads a socket until it is closed, handing each message to `handle` as it
 * arrives. A plain loop over receive() rather than `for await`: zeromq.js's
 * async iterator wraps every message in one more async call and result object,
 * which shows in profiles at tens of thousands of messages a second.
 */
import type * as zmq from "zeromq";

export type ReadableSocket = zmq.Readable & { readonly closed: boolean };

export async function receiveEach(socket: ReadableSocket, handle: (frames: Buffer[]) => void): Promise<void> {
  for (;;) {
    let frames: Buffer[];
    try {
      frames = await socket.receive();
    } catch (error) {
      if (socket.closed) return;
      throw error;
    }
    handle(frames);
  }
}
