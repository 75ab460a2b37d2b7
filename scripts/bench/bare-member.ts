/**
 * A curvehost user cut down to what a fan-out receiver needs: the join on the
 * command port (PROTOCOL.md §3), a SUB socket on the subscriber port, and pongs
 * on the ttl port so that the server keeps the user. No schema checks and no
 * replica: each event is one frame, and the receiver reads its header's
 * manifest length to find the data, so a row driven by these shows what the
 * server and the wire format cost, apart from the client library's own work.
 */
import { randomBytes } from "node:crypto";
import * as zmq from "zeromq";
import type { KeyPair } from "../../src/keys/index.js";
import { loadSodium } from "../../src/keys/sodium.js";
import { PROTOCOL_VERSION, toFrames } from "../../src/protocol/index.js";
import { makeJoinProof } from "../../src/protocol/join-proof.js";
import { receiveEach } from "../../src/transport/receive.js";
import { curveOptions, openSubscriber, readPayloads } from "./bare-sockets.js";
import { withTimeout } from "./timing.js";

const frame = (header: Record<string, unknown>) => toFrames(header, [], 1024)[0]!;

function headerOf(bytes: Buffer): Record<string, unknown> {
  const newline = bytes.indexOf(10);
  return JSON.parse(bytes.subarray(0, newline).toString()) as Record<string, unknown>;
}

/** The data of the first node of a one-frame commit event: after the header, its newline and the manifest. */
function commitData(bytes: Buffer): Buffer | undefined {
  const newline = bytes.indexOf(10);
  const header = headerOf(bytes);
  return header["type"] === "commit" ? bytes.subarray(newline + 1 + (header["manifest"] as number)) : undefined;
}

/** Joins as `keys` and hands on the data of every commit published; resolves with a closer. */
export async function joinBare(port: number, serverPublicKey: string, keys: KeyPair, onPayload: (payload: Buffer | undefined) => void): Promise<() => void> {
  const routingId = randomBytes(16);
  routingId[0] = routingId[0]! | 0x01; // libzmq reserves a leading 0 for the ids it makes up
  const secure = { ...curveOptions(serverPublicKey, keys), routingId: routingId as unknown as string };
  const command = new zmq.Dealer(secure);
  const ttl = new zmq.Dealer(secure);
  let subscriber: zmq.Subscriber | undefined;
  const close = () => [command, ttl, subscriber].forEach((socket) => socket?.close());
  const address = (offset: number) => `tcp://127.0.0.1:${port + offset}`;
  try {
    command.connect(address(0));
    const proof = makeJoinProof(await loadSodium(), { routingId, clientSecretKey: keys.secretKey, serverPublicKey });
    await command.send(frame({ type: "join", ref: 1, protocol: PROTOCOL_VERSION, key: keys.publicKey, ...proof }));
    const [reply] = await withTimeout(command.receive(), 30_000, "a bare receiver's join");
    const welcome = headerOf(reply!);
    if (welcome["type"] !== "welcome") throw new Error(`bench: a bare receiver's join got ${String(welcome["type"])}`);

    subscriber = await withTimeout(openSubscriber(port, serverPublicKey, keys), 30_000, "a bare receiver's subscriber handshake");
    readPayloads(subscriber, commitData, onPayload);

    ttl.connect(address(3));
    await ttl.send(frame({ type: "pong", n: 0 }));
    receiveEach(ttl, ([bytes]) => {
      const ping = headerOf(bytes!);
      if (ping["type"] === "ping") void ttl.send(frame({ type: "pong", n: ping["n"] })).catch(() => {});
    }).catch(() => {});
  } catch (error) {
    close();
    throw error;
  }
  return close;
}
