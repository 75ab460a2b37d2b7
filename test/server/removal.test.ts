import test from "ava";
import { commitFrame, joinByHand } from "../helpers/raw.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";

test("a revoked user is removed within 2 s and its subscriber receives nothing more, while the others do", async (t) => {
  const { joined, store, server } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  const mallory = await joined("mallory");
  const started = Date.now();
  const removed = nextEvent(server, "departure", (name: string) => name === "mallory", 2000);
  await store.revoke("mallory");
  await removed;
  t.true(Date.now() - started < 2000);
  const leaked: unknown[] = [];
  mallory.on("event", (event) => leaked.push(event));
  // Several commits after the removal: bob sees them all (through resync if the cycle cost him some), mallory none.
  const last = nextEvent(bob, "event", committed("after-4"), 5000);
  for (let i = 0; i < 5; i++) await alice.commit(`after-${i}`, Buffer.from("secret plans"));
  await last;
  t.deepEqual([0, 1, 2, 3, 4].map((i) => bob.replica.nodes.has(`after-${i}`)), [true, true, true, true, true]);
  t.deepEqual(leaked, []);
  t.false(mallory.replica.nodes.has("after-0"));
});

test("a user that stops answering pings is lost after the timeout and its locks are released", async (t) => {
  const { server, config, allow, joined } = await startServer(t, { pingIntervalMs: 100, timeoutMs: 600 });
  const watcher = await joined("watcher");
  const keys = await allow("silent");
  // A join by hand, with no ttl socket: nobody answers the pings.
  const silent = await joinByHand(config.port, server.publicKey, keys);
  t.teardown(() => silent.close());
  t.like(silent.welcome, { type: "welcome", user: "silent" });
  const seen = nextEvent(watcher, "event", committed("held"));
  await silent.publisher.send(commitFrame([{ id: "held", data: Buffer.from("x") }], { ref: 2 }));
  await seen;
  const released = nextEvent(watcher, "event", (event: any) => event.type === "rights" && event.ids.includes("held"), 3000);
  const [name, reason] = await nextEvent<[string, string]>(server, "departure", () => true, 3000);
  t.deepEqual([name, reason], ["silent", "lost"]);
  await released;
  t.is(watcher.replica.nodes.get("held")!.owner, "common");
});

test("a kicked user's subscriber receives nothing more", async (t) => {
  const { joined } = await startServer(t);
  const admin = await joined("root", "admin");
  const bob = await joined("bob");
  const kicked = nextEvent(bob, "kicked");
  await admin.kick("bob");
  await kicked;
  const leaked: unknown[] = [];
  bob.on("event", (event) => leaked.push(event));
  await admin.commit("after-kick", Buffer.from("x"));
  await admin.users();
  t.deepEqual(leaked, []);
});
