/**
 * Hand-made peers for tests that attack or probe the server below the client
 * library: sockets with any keys, any routing id, any frames.
 */
import { randomBytes } from "node:crypto";
import * as zmq from "zeromq";
import { loadSodium } from "../../src/keys/sodium.js";
import { PROTOCOL_VERSION, nodesBody } from "../../src/protocol/index.js";
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
  // Listen before connecting: an outcome reported before anyone asks would be missed.
  outcomes.set(socket, watchHandshake(socket));
  socket.connect(`tcp://127.0.0.1:${port + offset}`);
  return socket;
}

const outcomes = new WeakMap<zmq.Socket, (timeoutMs: number) => Promise<string>>();

/** Resolves with the name of the first handshake outcome the socket reports (since rawPeer made it, for its sockets). */
export function handshakeOutcome(socket: zmq.Socket, timeoutMs = 5000): Promise<string> {
  return (outcomes.get(socket) ?? watchHandshake(socket))(timeoutMs);
}

function watchHandshake(socket: zmq.Socket): (timeoutMs: number) => Promise<string> {
  let outcome: string | null = null;
  const waiting: Array<(name: string) => void> = [];
  const done = (name: string) => {
    if (outcome !== null) return;
    outcome = name;
    for (const resolve of waiting.splice(0)) resolve(name);
  };
  socket.events.on("handshake", () => done("handshake"));
  socket.events.on("handshake:error:auth", () => done("auth"));
  socket.events.on("handshake:error:protocol", () => done("protocol"));
  socket.events.on("handshake:error:other", () => done("other"));
  return (timeoutMs) =>
    outcome !== null
      ? Promise.resolve(outcome)
      : new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve("timeout"), timeoutMs);
          waiting.push((name) => (clearTimeout(timer), resolve(name)));
        });
}

/** A ZMTP 3.0 greeting for the CURVE mechanism, as a client sends it before its HELLO. */
export function curveGreeting(): Buffer {
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting[11] = 0;
  greeting.write("CURVE", 12, "ascii");
  return greeting;
}

/** The JSON header of a frame the server sent. */
export function headerOf(bytes: Buffer): Record<string, any> {
  const newline = bytes.indexOf(10);
  return JSON.parse(bytes.subarray(0, newline < 0 ? bytes.length : newline).toString()) as Record<string, any>;
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

/** One frame as PROTOCOL.md §2 has it: the JSON header, a newline, the body. */
export function frame(header: object, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(header)), Buffer.from("\n"), body]);
}

/** A commit of some nodes as one frame. */
export function commitFrame(nodes: Array<{ id: string; data: Buffer; [field: string]: unknown }>, extra: object = {}): Buffer {
  const { manifest, body } = nodesBody(
    nodes.map(({ data, ...entry }) => ({ ...entry, size: data.length })),
    nodes.map((node) => node.data),
  );
  return frame({ type: "commit", manifest, ...extra }, Buffer.concat(body));
}

/**
 * A user joined by hand: its own routing id, a command and a publisher socket,
 * and no ttl (it never answers pings) unless `answerPings`.
 */
export async function joinByHand(
  port: number,
  serverPublicKey: string,
  keys: { publicKey: string; secretKey: string },
  { answerPings = false }: { answerPings?: boolean } = {},
): Promise<{ routingId: Buffer; command: zmq.Dealer; publisher: zmq.Dealer; welcome: Record<string, unknown>; close(): void }> {
  const routingId = randomBytes(16);
  routingId[0] = routingId[0]! | 1;
  const command = rawPeer(port, 0, { serverPublicKey, ...keys }, routingId) as zmq.Dealer;
  const proof = makeJoinProof(await loadSodium(), { routingId, clientSecretKey: keys.secretKey, serverPublicKey });
  await command.send(frame({ type: "join", ref: "join", protocol: PROTOCOL_VERSION, key: keys.publicKey, ...proof }));
  const reply = await receiveWithin(command, 5000);
  const welcome = headerOf(reply![0]!);
  if (welcome["type"] !== "welcome") throw new Error(`join failed: ${reply![0]!.toString()}`);
  const publisher = rawPeer(port, 2, { serverPublicKey, ...keys }, routingId) as zmq.Dealer;
  const ttl = answerPings ? (rawPeer(port, 3, { serverPublicKey, ...keys }, routingId) as zmq.Dealer) : null;
  if (ttl) {
    await ttl.send(frame({ type: "pong", n: 0 }));
    void (async () => {
      for await (const [ping] of ttl) await ttl.send(frame({ type: "pong", n: headerOf(ping!)["n"] }));
    })().catch(() => {});
  }
  return { routingId, command, publisher, welcome, close: () => (command.close(), publisher.close(), ttl?.close()) };
}
