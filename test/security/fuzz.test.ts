import test from "ava";
import { randomBytes } from "node:crypto";
import type * as zmq from "zeromq";
import { attackCounter } from "../helpers/attacks.js";
import { handshakeOutcome, joinByHand, rawPeer } from "../helpers/raw.js";
import { committed, startServer } from "../helpers/server.js";
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
  const before = JSON.stringify([...alice.replica.nodes.values()].map((n) => [n.id, n.owner, n.parts.map(String)]));

  const malloryKeys = await server.allow("mallory");
  const attacker = await joinByHand(server.config.port, server.server.publicKey, malloryKeys);
  // Mallory's own ttl socket, and a command socket with a routing id no join bound.
  const ttl = rawPeer(server.config.port, 3, { serverPublicKey: server.server.publicKey, ...malloryKeys }, attacker.routingId) as zmq.Dealer;
  const stray = rawPeer(server.config.port, 0, { serverPublicKey: server.server.publicKey, ...malloryKeys }, randomBytes(16)) as zmq.Dealer;
  t.teardown(() => (attacker.close(), ttl.close(), stray.close()));
  // Every connection up before the first message: a message of several frames expels mallory, whose key is then refused on any new one.
  t.deepEqual(await Promise.all([attacker.publisher, ttl, stray].map((socket) => handshakeOutcome(socket))), ["handshake", "handshake", "handshake"]);
  const aliceIds = [...alice.replica.nodes.keys()];
  const ids = (list: unknown[]) => Buffer.from(JSON.stringify(list));
  const nodes = (entries: Array<Record<string, unknown>>, data: Buffer[]) => {
    const manifest = Buffer.from(JSON.stringify(entries));
    return { manifest: manifest.length, body: Buffer.concat([manifest, ...data]) };
  };
  const commit = (entry: Record<string, unknown>): [Record<string, unknown>, Buffer] => {
    const data = randomBytes(Math.floor(random() * 64));
    const { manifest, body } = nodes([{ ...entry, size: data.length }], [data]);
    return [{ type: "commit", ref: 1, manifest }, body];
  };
  const templates = (): Array<[Record<string, unknown>, Buffer]> => [
    commit({ id: pick(aliceIds), kind: "k" }),
    commit({ id: `m${Math.floor(random() * 10)}`, kind: "k", deps: [pick(aliceIds)], mode: pick(["full", "delta"]) }),
    [{ type: "lock", ref: 3, force: pick([true, false]) }, ids([pick(aliceIds)])],
    [{ type: "unlock", ref: 4, force: true }, ids([pick(aliceIds)])],
    [{ type: "give", ref: 4, to: "mallory", force: pick([true, false]) }, ids([pick(aliceIds)])],
    [{ type: "delete", ref: 5 }, ids([pick(aliceIds), pick(WEIRD)])],
    [{ type: "kick", ref: 6, user: "alice" }, Buffer.alloc(0)],
    [{ type: "open", ref: 7 }, Buffer.alloc(0)],
    [{ type: "presence", ref: 8, data: { view: [1, 2] } }, Buffer.alloc(0)],
    [{ type: "fetch", ref: 9 }, ids([pick(aliceIds)])],
    [{ type: "resync", ref: 10, since: Math.floor(random() * 50) }, Buffer.alloc(0)],
    [{ type: "pong", n: Math.floor(random() * 10) }, Buffer.alloc(0)],
    [{ type: "join", ref: 11, protocol: 2, key: "x", nonce: "AAAA", proof: "AAAA" }, Buffer.alloc(0)],
    [{ type: "more", offset: Math.floor(random() * 100) }, randomBytes(Math.floor(random() * 100))],
  ];
  const mutate = ([message, body]: [Record<string, unknown>, Buffer]): Buffer[] => {
    const copy: Record<string, unknown> = { ...message };
    const keys = Object.keys(copy);
    for (let m = Math.floor(random() * 3); m > 0; m--) copy[pick(keys)] = pick(WEIRD);
    // Sometimes a message claims a longer body, to come in pieces that mostly never follow.
    if (random() < 0.1) copy["size"] = body.length + Math.floor(random() * 100_000);
    let bytes = Buffer.concat([Buffer.from(JSON.stringify(copy)), random() < 0.05 ? Buffer.alloc(0) : Buffer.from("\n"), body]);
    if (random() < 0.2) {
      bytes = Buffer.from(bytes);
      for (let f = 1 + Math.floor(random() * 4); f > 0; f--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    const frames = [bytes];
    // And sometimes it is not one frame at all.
    for (let p = random() < 0.1 ? 1 + Math.floor(random() * 3) : 0; p > 0; p--) frames.push(randomBytes(Math.floor(random() * 2048)));
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
  const seen = new Promise<void>((resolve) => bob.on("event", (event) => void (committed("final")(event) && resolve())));
  await alice.commit("final", Buffer.from("done"));
  await seen;
  // Nothing of alice's was changed by mallory (a member), and bob agrees with alice.
  const after = aliceIds.map((id) => alice.replica.nodes.get(id)).map((n) => [n?.id, n?.owner, n?.parts.map(String)]);
  t.is(JSON.stringify(after), before, `seed ${seed}`);
  const fresh = await server.joined("carol");
  const view = (c: typeof alice) => JSON.stringify([...c.replica.nodes.values()].map((n) => [n.id, n.owner, n.parts.map(String)]).sort());
  t.is(view(fresh), view(alice), `seed ${seed}: a fresh sync and alice's replica agree`);
  t.is(view(bob), view(alice), `seed ${seed}: bob and alice agree`);
});
