import test from "ava";
import { randomBytes } from "node:crypto";
import type * as zmq from "zeromq";
import { PROTOCOL_VERSION } from "../../src/protocol/index.js";
import { makeJoinProof } from "../../src/protocol/join-proof.js";
import { generateKeyPair } from "../../src/keys/index.js";
import { loadSodium } from "../../src/keys/sodium.js";
import { commitFrame, frame, headerOf, rawPeer, receiveWithin } from "../helpers/raw.js";
import { nextEvent, startServer } from "../helpers/server.js";
import { attackCounter } from "../helpers/attacks.js";

const attacks = attackCounter("identity");

function routingId(): Buffer {
  const id = randomBytes(16);
  id[0] = id[0]! | 1;
  return id;
}

test("a client cannot join with another user's public key: the proof fails", async (t) => {
  attacks.count();
  const { server, config, allow, logs } = await startServer(t);
  const alice = await allow("alice");
  const mallory = await allow("mallory");
  const id = routingId();
  const socket = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...mallory }, id) as zmq.Dealer;
  t.teardown(() => socket.close());
  const sodium = await loadSodium();
  // Mallory claims alice's key but can only sign with her own secret.
  const proof = makeJoinProof(sodium, { routingId: id, clientSecretKey: mallory.secretKey, serverPublicKey: server.publicKey });
  await socket.send(frame({ type: "join", ref: 1, protocol: PROTOCOL_VERSION, key: alice.publicKey, ...proof }));
  const reply = headerOf((await receiveWithin(socket, 3000))![0]!);
  t.like(reply, { type: "error", ref: 1, code: "not_allowed" });
  t.is(server.userCount, 0);
  t.truthy(logs.find((line) => line.event === "join_refused" && line.reason === "bad_proof"));
});

test("a join proof made for one routing id does not work from another", async (t) => {
  attacks.count();
  const { server, config, allow } = await startServer(t);
  const alice = await allow("alice");
  const sodium = await loadSodium();
  const proof = makeJoinProof(sodium, { routingId: routingId(), clientSecretKey: alice.secretKey, serverPublicKey: server.publicKey });
  const socket = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...alice }, routingId()) as zmq.Dealer;
  t.teardown(() => socket.close());
  await socket.send(frame({ type: "join", ref: 2, protocol: PROTOCOL_VERSION, key: alice.publicKey, ...proof }));
  t.like(headerOf((await receiveWithin(socket, 3000))![0]!), { type: "error", code: "not_allowed" });
});

test("a routing id not bound by a join gets nothing on the publisher and ttl ports", async (t) => {
  attacks.count();
  const { server, config, allow, joined, client } = await startServer(t);
  const alice = await joined("alice");
  // Bob is joined too (so ZAP admits his key on every port) but uses a routing id of his own that no join bound.
  const bobKeys = await allow("bob");
  await (await client("bob", { keys: bobKeys })).join();
  const stray = routingId();
  const publisher = rawPeer(config.port, 2, { serverPublicKey: server.publicKey, ...bobKeys }, stray) as zmq.Dealer;
  const ttl = rawPeer(config.port, 3, { serverPublicKey: server.publicKey, ...bobKeys }, stray) as zmq.Dealer;
  t.teardown(() => (publisher.close(), ttl.close()));
  await publisher.send(commitFrame([{ id: "forged", data: Buffer.from("x") }], { ref: 1 }));
  await ttl.send(frame({ type: "pong", n: 0 }));
  t.is(await receiveWithin(publisher, 1500), null, "no rejection, nothing");
  t.is(await receiveWithin(ttl, 1500), null, "no ping");
  t.false(alice.replica.nodes.has("forged"));
});

test("a second join with the same key replaces the first binding", async (t) => {
  attacks.count();
  const { server, allow, client } = await startServer(t);
  const keys = await allow("alice");
  const first = await client("alice", { keys });
  await first.join();
  await first.sync();
  await first.commit("mine", Buffer.from("x"));
  const departed = nextEvent(server, "departure", (name: string, reason: string) => name === "alice" && reason === "replaced");
  const second = await client("alice", { keys });
  await second.join();
  await departed;
  t.is(server.userCount, 1);
});

test("an unknown fresh keypair cannot even say hello", async (t) => {
  attacks.count();
  const { server, config } = await startServer(t);
  const stranger = await generateKeyPair();
  const socket = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...stranger }) as zmq.Dealer;
  t.teardown(() => socket.close());
  await socket.send(frame({ type: "hello", protocol: 2, ref: 1 }));
  t.is(await receiveWithin(socket, 1500), null);
});

test("a client with two allowed keys cannot rebind one routing id to the second: refused, and the first user stays whole", async (t) => {
  attacks.count();
  const { server, config, allow, joined, store } = await startServer(t);
  const admin = await joined("root", "admin");
  const laptop = await allow("laptop");
  const desktop = await allow("desktop");
  const id = routingId();
  const socket = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...laptop }, id) as zmq.Dealer;
  t.teardown(() => socket.close());
  const sodium = await loadSodium();
  const join = async (keys: typeof laptop, ref: number) => {
    const proof = makeJoinProof(sodium, { routingId: id, clientSecretKey: keys.secretKey, serverPublicKey: server.publicKey });
    await socket.send(frame({ type: "join", ref, protocol: PROTOCOL_VERSION, key: keys.publicKey, ...proof }));
    return headerOf((await receiveWithin(socket, 3000))![0]!);
  };
  t.like(await join(laptop, 1), { type: "welcome", user: "laptop" });
  // The second key proves itself for the same routing id: the server refuses to rebind it.
  t.like(await join(desktop, 2), { type: "error", ref: 2, code: "denied" });
  t.deepEqual((await admin.users()).map((user) => user.name), ["laptop", "root"]);
  // The first user is still whole: it can be kicked, and after a revoke it is gone.
  const gone = nextEvent(server, "departure", (name: string) => name === "laptop", 3000);
  await store.revoke("laptop");
  await gone;
  t.deepEqual((await admin.users()).map((user) => user.name), ["root"]);
  t.is(server.userCount, 1);
});
