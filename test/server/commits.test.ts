import test from "ava";
import { createHash } from "node:crypto";
import { DEFAULT_LIMITS } from "../../src/protocol/index.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";

const digest = (data: Buffer) => createHash("sha256").update(data).digest("hex");

test("hello and welcome advertise protocol 2 and the limits, numbers only", async (t) => {
  const { client, config } = await startServer(t);
  const alice = await client("alice");
  const hello = await alice.hello();
  t.is(hello.protocol, 2);
  const advertised = { ...DEFAULT_LIMITS, ping: config.pingIntervalMs, timeout: config.timeoutMs };
  t.deepEqual(hello.limits, advertised);
  t.true(Object.values(hello.limits).every((value) => typeof value === "number"));
  const welcome = await alice.join();
  t.is(welcome.protocol, 2);
  t.deepEqual(welcome.limits, advertised);
});

test("a batch of 2,000 nodes is one commit, seen by others as one event with one seq", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  const nodes = Array.from({ length: 2000 }, (_, i) => ({ id: `object-${i}`, kind: "OBJECT", deps: [`mesh-${i % 10}`], data: Buffer.from(`object ${i}`) }));
  const events: any[] = [];
  bob.on("event", (event) => events.push(event));
  const seen = nextEvent<[any]>(bob, "event", committed("object-1999"), 10_000);
  const seq = await alice.commitBatch(nodes);
  const [event] = await seen;
  t.is(event.seq, seq);
  t.is(event.nodes.length, 2000);
  t.is(events.filter((e) => e.type === "commit").length, 1, "one event for the whole batch");
  t.is(bob.replica.nodes.size, 2000);
  t.is(bob.replica.nodes.get("object-1234")!.parts[0]!.toString(), "object 1234");
  t.deepEqual(bob.replica.nodes.get("object-7")!.deps, ["mesh-7"]);
  t.is(bob.replica.nodes.get("object-7")!.owner, "alice");
});

test("a batch with one bad node is refused whole, naming the node, and nothing of it is applied", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  await bob.commit("bobs", Buffer.from("mine"));
  const nodes = Array.from({ length: 2000 }, (_, i) => ({ id: `n${i}`, data: Buffer.from(String(i)) }));
  nodes[1500] = { id: "bobs", data: Buffer.from("taken over") };
  const error = await t.throwsAsync(alice.commitBatch(nodes));
  t.like(error, { code: "denied", id: "bobs" });
  // A later commit is seen, and nothing of the refused batch came before it.
  const after = nextEvent(bob, "event", committed("after"));
  await alice.commit("after", Buffer.from("x"));
  await after;
  t.false(bob.replica.nodes.has("n0"));
  t.is(bob.replica.nodes.get("bobs")!.parts[0]!.toString(), "mine");
  t.is((await alice.catalog()).nodes.length, 2);
});

test("a node with 10,000 deps is committed, published and fetched with every dep", async (t) => {
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const deps = Array.from({ length: 10_000 }, (_, i) => `OBJECT:a-rather-long-object-name-${i}`);
  await alice.commit("collection", Buffer.from("c"), { kind: "COLLECTION", deps });
  t.deepEqual(alice.replica.nodes.get("collection")!.deps, deps);
  const late = await joined("late");
  t.deepEqual(late.replica.nodes.get("collection")!.deps, deps);
  t.deepEqual((await late.catalog()).nodes[0]!.deps.length, 10_000);
});

test("an 85 MiB node is committed in pieces, reaches every subscriber whole, and a late joiner fetches it byte for byte", async (t) => {
  t.timeout(120_000);
  const { client } = await startServer(t);
  const join = async (name: string) => {
    const c = await client(name, { client: { requestTimeoutMs: 60_000 } });
    await c.join();
    await c.sync();
    return c;
  };
  const alice = await join("alice");
  const bob = await join("bob");
  const carol = await join("carol");
  const mesh = Buffer.alloc(85 * 1024 * 1024);
  for (let i = 0; i < mesh.length; i += 4096) mesh.writeUInt32LE((i ^ 0x9e3779b9) >>> 0, i);
  const want = digest(mesh);
  const atBob = nextEvent<[any]>(bob, "event", committed("mesh"), 60_000);
  const atCarol = nextEvent<[any]>(carol, "event", committed("mesh"), 60_000);
  await alice.commit("mesh", mesh, { kind: "MESH" });
  for (const [event] of [await atBob, await atCarol]) t.is(digest(event.nodes[0].data), want);
  const late = await join("late");
  t.is(digest(Buffer.concat(late.replica.nodes.get("mesh")!.parts)), want);
});

test("deltas: too many is refused with too_many_deltas (send a full), a delta past the node size with node_too_large", async (t) => {
  const { joined } = await startServer(t, { limits: { ...DEFAULT_LIMITS, deltas: 3, node: 10 } });
  const alice = await joined("alice");
  await alice.commit("n", Buffer.from("a"));
  for (let i = 0; i < 3; i++) await alice.commit("n", Buffer.from("d"), { mode: "delta" });
  t.like(await t.throwsAsync(alice.commit("n", Buffer.from("d"), { mode: "delta" })), { code: "too_many_deltas", id: "n" });
  await alice.commit("n", Buffer.from("full"));
  t.like(await t.throwsAsync(alice.commit("n", Buffer.alloc(7), { mode: "delta" })), { code: "node_too_large", id: "n" });
  t.like(await t.throwsAsync(alice.commit("m", Buffer.alloc(11))), { code: "node_too_large", id: "m" });
  t.deepEqual(alice.replica.nodes.get("n")!.parts.map(String), ["full"]);
});

test("a commit larger than the commit limit is refused at its first piece, with commit_too_large", async (t) => {
  const { joined, server } = await startServer(t, { limits: { ...DEFAULT_LIMITS, node: 1024 * 1024, commit: 1024 * 1024 + 1024 } });
  const alice = await joined("alice");
  t.like(await t.throwsAsync(alice.commit("big", Buffer.alloc(2 * 1024 * 1024))), { code: "commit_too_large" });
  await alice.commit("small", Buffer.alloc(300 * 1024));
  t.is(server.seq, alice.replica.seq);
  t.false(alice.replica.nodes.has("big"));
});

test("give hands one's nodes to another joined user; a member cannot give another's; an admin can, with force", async (t) => {
  const { joined } = await startServer(t);
  const root = await joined("root", "admin");
  const alice = await joined("alice");
  const bob = await joined("bob");
  await alice.commit("cube", Buffer.from("c"));
  const given = nextEvent<[any]>(bob, "event", (event) => event.type === "rights" && event.owner === "bob");
  await alice.give(["cube"], "bob");
  t.like((await given)[0], { from: "alice", ids: ["cube"] });
  t.like(await t.throwsAsync(alice.give(["cube"], "alice")), { code: "denied", id: "cube" });
  t.like(await t.throwsAsync(bob.give(["cube"], "nobody")), { code: "not_found" });
  t.like(await t.throwsAsync(alice.give(["cube"], "alice", true)), { code: "denied" });
  const back = nextEvent<[any]>(bob, "event", (event) => event.type === "rights" && event.owner === "alice");
  await root.give(["cube"], "alice", true);
  t.like((await back)[0], { from: "root", ids: ["cube"] });
  t.is((await root.catalog()).nodes[0]!.owner, "alice");
});
