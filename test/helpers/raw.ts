/**
 * Hand-made peers for tests that attack or probe the server below the client
 * library: sockets with any keys, any routing id, any frames.
 */
import { randomBytes } from "node:crypto";
import * as zmq from "zeromq";
import { loadSodium } from "../../src/keys/sodium.js";
import { PROTOCOL_VERSION, encode } from "../../src/protocol/index.js";
import { makeJoinProof } from "../../src/protocol/join-proof.js";

export const PORT_NAMES = ["command", "subscriber", "publisher", "ttl"] as const;

export interface PeerKeys {
  serverPublicKey?: string;
  publicKey?: string;
  secretKey?: string;
}

function security(keys: PeerKeys) {
  return keys.serverPublicKey === undefined
    ? {}
    : { curveServerKey: keys.serverPublicKey, curvePublicKey: keys.publicKey!, curveSecretKey: keys.secretKey! };
}

/** A DEALER (or SUB, for the subscriber port) to one port, with the given keys and routing id. */
export function rawPeer(port: number, offset: number, keys: PeerKeys, routingId?: Buffer): zmq.Dealer | zmq.Subscriber {
  const options = { ...security(keys), linger: 0, receiveTimeout: -1 };
  const socket =
    offset === 1
      ? new zmq.Subscriber(options)
      : new zmq.Dealer({ ...options, ...(routingId ? { routingId: routingId as unknown as string } : {}) });
  if (socket instanceof zmq.Subscriber) socket.subscribe();
  socket.connect(`tcp://127.0.0.1:${port + offset}`);
  return socket;
}

/** Resolves with the name of the first handshake outcome the socket reports. */
export function handshakeOutcome(socket: zmq.Socket, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    const done = (name: string) => {
      clearTimeout(timer);
      resolve(name);
    };
    socket.events.on("handshake", () => done("handshake"));
    socket.events.on("handshake:error:auth", () => done("auth"));
    socket.events.on("handshake:error:protocol", () => done("protocol"));
    socket.events.on("handshake:error:other", () => done("other"));
  });
}

/** The next message on a socket, or null when none comes within `timeoutMs`. */
export async function receiveWithin(socket: zmq.Dealer | zmq.Subscriber, timeoutMs: number): Promise<Buffer[] | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  try {
    return await Promise.race([socket.receive(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function request(header: object, payload: Buffer[] = []): Buffer[] {
  return encode(header, payload);
}

/** A user joined by hand: its own routing id, a command and a publisher socket, and no ttl (it never answers pings). */
export async function joinByHand(
  port: number,
  serverPublicKey: string,
  keys: { publicKey: string; secretKey: string },
): Promise<{ routingId: Buffer; command: zmq.Dealer; publisher: zmq.Dealer; welcome: Record<string, unknown>; close(): void }> {
  const routingId = randomBytes(16);
  routingId[0] = routingId[0]! | 1;
  const command = rawPeer(port, 0, { serverPublicKey, ...keys }, routingId) as zmq.Dealer;
  const proof = makeJoinProof(await loadSodium(), { routingId, clientSecretKey: keys.secretKey, serverPublicKey });
  await command.send(request({ type: "join", ref: "join", protocol: PROTOCOL_VERSION, key: keys.publicKey, ...proof }));
  const reply = await receiveWithin(command, 5000);
  const welcome = JSON.parse(reply![0]!.toString()) as Record<string, unknown>;
  if (welcome["type"] !== "welcome") throw new Error(`join failed: ${reply![0]!.toString()}`);
  const publisher = rawPeer(port, 2, { serverPublicKey, ...keys }, routingId) as zmq.Dealer;
  return { routingId, command, publisher, welcome, close: () => (command.close(), publisher.close()) };
}
