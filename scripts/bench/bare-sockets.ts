/**
 * The bench's bare CURVE sockets, the same for every load generator that does
 * without the client library: the relay's writer and receivers, the burst's
 * relay clients, and curvehost's bare receivers.
 */
import * as zmq from "zeromq";
import type { KeyPair } from "../../src/keys/index.js";

export function curveOptions(serverPublicKey: string, keys: KeyPair) {
  return { curveServerKey: serverPublicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0 };
}

/** Resolves at the socket's first completed CURVE handshake. */
export function handshake(socket: zmq.Socket): Promise<void> {
  return new Promise((resolve) => socket.events.on("handshake", () => resolve()));
}

/** A SUB socket subscribed to everything on the subscriber port (P+1), resolved once its handshake is done. */
export async function openSubscriber(port: number, serverPublicKey: string, keys: KeyPair): Promise<zmq.Subscriber> {
  const socket = new zmq.Subscriber({ ...curveOptions(serverPublicKey, keys), receiveHighWaterMark: 0 });
  const connected = handshake(socket);
  socket.subscribe();
  socket.connect(`tcp://127.0.0.1:${port + 1}`);
  await connected;
  return socket;
}

/** Hands on what `payloadOf` finds in each message on the subscriber until the socket closes: the same loop for every bare receiver. */
export function readPayloads(socket: zmq.Subscriber, payloadOf: (frame: Buffer) => Buffer | undefined, onPayload: (payload: Buffer | undefined) => void): void {
  void (async () => {
    for await (const [frame] of socket) onPayload(frame && payloadOf(frame));
  })().catch(() => {});
}
