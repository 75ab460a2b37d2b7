import test from "ava";
import { randomBytes } from "node:crypto";
import type * as zmq from "zeromq";
import { attackCounter } from "../helpers/attacks.js";
import { joinByHand, rawPeer } from "../helpers/raw.js";
import { startServer } from "../helpers/server.js";
import { prng, runSeed } from "../helpers/prng.js";

const attacks = attackCounter("fuzz");


const WEIRD: unknown[] = [null, -1, 1e308, "", "x".repeat(200), [], {}, [[[[]]]], true, "common", "alice", "__proto__", 3.5];

test("thousands of random and mutated messages on every port: server alive, honest users in sync, nothing unauthorised", async (t) => {
  const seed = runSeed();
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  t.log(`seed ${seed} (CURVEHOST_SEED=${seed} repeats this run)`);
  const server = await startServer(t);
  const alice = await server.joined("alice");
  const bob = await server.joined("bob");
  for (let i = 0; i < 20; i++) await alice.commit(`a${i}`, Buffer.from(`alice ${i}`));
  const before = JSON.stringify([...alice.replica.nodes.values()].map((n) => [n.id, n.owner, n.frames.map(String)]));

  const malloryKeys = await server.allow("mallory");
  const attacker = await joinByHand(server.config.port, server.server.publicKey, malloryKeys);
  // Mallory's own ttl socket, and a command socket with a routing id no join bound.
  const ttl = rawPeer(server.config.port, 3, { serverPublicKey: server.server.publicKey, ...malloryKeys }, attacker.routingId) as zmq.Dealer;
  const stray = rawPeer(server.config.port, 0, { serverPublicKey: server.server.publicKey, ...malloryKeys }, randomBytes(16)) as zmq.Dealer;
  t.teardown(() => (attacker.close(), ttl.close(), stray.close()));
  const aliceIds = [...alice.replica.nodes.keys()];
  const templates = (): Record<string, unknown>[] => [
    { type: "commit", ref: 1, id: pick(aliceIds), kind: "k", deps: [], mode: "full" },
    { type: "commit", ref: 2, id: `m${Math.floor(random() * 10)}`, kind: "k", deps: [pick(aliceIds)], mode: pick(["full", "delta"]) },
    { type: "lock", ref: 3, ids: [pick(aliceIds)], force: pick([true, false]) },
    { type: "unlock", ref: 4, ids: [pick(aliceIds)], force: true },
    { type: "delete", ref: 5, ids: [pick(aliceIds)] },
    { type: "kick", ref: 6, user: "alice" },
    { type: "open", ref: 7 },
    { type: "metadata", ref: 8, data: { view: [1, 2] } },
    { type: "fetch", ref: 9, ids: [pick(aliceIds)] },
    { type: "resync", ref: 10, since: Math.floor(random() * 50) },
    { type: "pong", n: Math.floor(random() * 10) },
    { type: "join", ref: 11, protocol: 1, key: "x", nonce: "AAAA", proof: "AAAA" },
  ];
  const mutate = (message: Record<string, unknown>): Buffer[] => {
    const copy: Record<string, unknown> = { ...message };
    const keys = Object.keys(copy);
    for (let m = Math.floor(random() * 3); m > 0; m--) copy[pick(keys)] = pick(WEIRD);
    let header = Buffer.from(JSON.stringify(copy));
    if (random() < 0.2) {
      header = Buffer.from(header);
      for (let f = 1 + Math.floor(random() * 4); f > 0; f--) header[Math.floor(random() * header.length)] = Math.floor(random() * 256);
    }
    const frames = [header];
    for (let p = Math.floor(random() * 3); p > 0; p--) frames.push(randomBytes(Math.floor(random() * 2048)));
    return frames;
  };
  const sockets = [attacker.command, attacker.publisher, ttl, stray];
  const total = 3000;
  for (let i = 0; i < total; i++) {
    await pick(sockets).send(mutate(pick(templates())));
  }
  attacks.count(total);

  // The server is alive and serves honest users.
  t.like(await alice.hello(), { type: "hello", server: "curvehost" });
  const seen = new Promise<void>((resolve) => bob.on("event", (event) => event.type === "commit" && event.id === "final" && resolve()));
  await alice.commit("final", Buffer.from("done"));
  await seen;
  // Nothing of alice's was changed by mallory (a member), and bob agrees with alice.
  const after = aliceIds.map((id) => alice.replica.nodes.get(id)).map((n) => [n?.id, n?.owner, n?.frames.map(String)]);
  t.is(JSON.stringify(after), before, `seed ${seed}`);
  const fresh = await server.joined("carol");
  const view = (c: typeof alice) => JSON.stringify([...c.replica.nodes.values()].map((n) => [n.id, n.owner, n.frames.map(String)]).sort());
  t.is(view(fresh), view(alice), `seed ${seed}: a fresh sync and alice's replica agree`);
  t.is(view(bob), view(alice), `seed ${seed}: bob and alice agree`);
});
