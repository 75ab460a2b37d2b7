import test from "ava";
import type { ReplicaNode } from "../../src/client/index.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";

test("two clients join, one commits, the other receives it with the right seq; a late joiner holds the same nodes", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  const received = nextEvent<[any]>(bob, "event", committed("cube"));
  const seq = await alice.commit("cube", Buffer.from("vertices"), { kind: "mesh" });
  const [event] = await received;
  t.is(event.seq, seq);
  t.is(event.from, "alice");
  t.like(event.nodes, [{ id: "cube", kind: "mesh", mode: "full", owner: "alice", data: Buffer.from("vertices") }]);

  await alice.commit("cube", Buffer.from("+delta"), { kind: "mesh", mode: "delta" });
  await alice.commit("light", Buffer.from("sun"), { kind: "light", owner: "common", deps: ["cube"] });
  await bob.commit("camera", Buffer.alloc(100_000, 7), { kind: "camera" });
  const carol = await joined("carol");
  t.deepEqual(snapshot(carol.replica.nodes), snapshot(alice.replica.nodes));
  t.deepEqual(carol.replica.nodes.get("cube")!.parts.map(String), ["vertices", "+delta"]);
  t.is(carol.replica.nodes.get("light")!.owner, "common");
  t.deepEqual(carol.replica.nodes.get("light")!.deps, ["cube"]);
  t.is(carol.replica.nodes.get("camera")!.parts[0]!.length, 100_000);
  t.is(carol.replica.seq, alice.replica.seq);
});

test("hello answers before a join; welcome names the user and role from the allowlist", async (t) => {
  const { client } = await startServer(t, { session: "demo" });
  const dan = await client("dan", { role: "admin" });
  const hello = await dan.hello();
  t.like(hello, { type: "hello", server: "curvehost", protocol: 2, session: "demo", state: "open", users: 0 });
  const welcome = await dan.join();
  t.like(welcome, { type: "welcome", user: "dan", role: "admin", state: "open" });
  t.deepEqual(welcome.users.map((user) => user.name), ["dan"]);
});

test("lock, unlock and delete change owners and nodes for everyone", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  await alice.commit("shared", Buffer.from("x"), { owner: "common" });
  const locked = nextEvent(bob, "event", (event: any) => event.type === "rights" && event.owner === "alice");
  await alice.lock(["shared"]);
  await locked;
  t.is(bob.replica.nodes.get("shared")!.owner, "alice");
  const released = nextEvent(bob, "event", (event: any) => event.type === "rights" && event.owner === "common");
  await alice.unlock(["shared"]);
  await released;
  t.is(bob.replica.nodes.get("shared")!.owner, "common");
  const deleted = nextEvent(alice, "event", (event: any) => event.type === "delete");
  await bob.delete(["shared"]);
  await deleted;
  t.false(alice.replica.nodes.has("shared"));
});

test("presence reaches the others without a seq", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  const seen = nextEvent(bob, "presence", (presence: any) => presence.from === "alice");
  await alice.presence({ color: "#ff0000", view: [1, 2, 3] });
  const [presence] = (await seen) as [any];
  t.deepEqual(presence.data, { color: "#ff0000", view: [1, 2, 3] });
  t.false("seq" in presence);
});

test("resync replays exactly the events after a seq, as they were published", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  const seqs: number[] = [];
  for (let i = 0; i < 20; i++) seqs.push(await alice.commit(`n${i}`, Buffer.from(String(i))));
  // As if bob had lost everything after the fifth commit: resync must bring back exactly the rest.
  bob.replica.seq = seqs[4]!;
  bob.replica.nodes.clear();
  await bob.resync();
  t.is(bob.replica.seq, seqs[19]!);
  t.deepEqual([...bob.replica.nodes.keys()].sort(), Array.from({ length: 15 }, (_, i) => `n${i + 5}`).sort());
  t.is(bob.replica.nodes.get("n7")!.parts[0]!.toString(), "7");
});

function snapshot(nodes: Map<string, ReplicaNode>) {
  return [...nodes.values()]
    .map((node) => ({ ...node, parts: node.parts.map((part) => part.toString("base64")) }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

test("many commits in flight at once from one client are all acknowledged, in order", async (t) => {
  const { client } = await startServer(t);
  const alice = await client("alice", { client: { requestTimeoutMs: 30_000 } });
  await alice.join();
  await alice.sync();
  const seqs = await Promise.all(Array.from({ length: 3000 }, (_, i) => alice.commit(`n${i % 50}`, Buffer.alloc(2048, i))));
  t.is(new Set(seqs).size, 3000);
  t.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
});

test("a join beyond --max-users is denied and changes nothing", async (t) => {
  const { joined, client, server } = await startServer(t, { maxUsers: 2 });
  await joined("alice");
  await joined("bob");
  const carol = await client("carol");
  const error = await t.throwsAsync(carol.join());
  t.like(error, { code: "denied", message: "the session is full (2 users)" });
  t.is(server.userCount, 2);
});
