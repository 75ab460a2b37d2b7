import test from "ava";
import { DEFAULT_LIMITS } from "../../src/protocol/index.js";
import { nextEvent, startServer } from "../helpers/server.js";

test("a late joiner gets everyone's latest presence in welcome", async (t) => {
  const { joined, client } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  await alice.presence({ frame: 1 });
  await alice.presence({ frame: 12, selection: ["cube"] });
  await bob.presence({ frame: 40 });
  const carol = await client("carol");
  const welcome = await carol.join();
  t.deepEqual(Object.keys(welcome.presence).sort(), ["alice", "bob"]);
  t.deepEqual(welcome.presence["alice"]!.data, { frame: 12, selection: ["cube"] });
  t.deepEqual(welcome.presence["bob"]!.data, { frame: 40 });
  t.deepEqual(carol.replica.presence["alice"]!.data, { frame: 12, selection: ["cube"] });
});

test("a user's presence leaves with the user; resync brings the latest", async (t) => {
  const { joined, client } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  await bob.presence({ frame: 5 });
  const gone = nextEvent(alice, "event", (event: any) => event.type === "users" && event.users.length === 1);
  await bob.leave();
  await gone;
  t.false("bob" in alice.replica.presence);
  const carol = await client("carol");
  t.deepEqual((await carol.join()).presence, {});
  await alice.presence({ frame: 9 });
  alice.replica.presence = {};
  await alice.resync();
  t.deepEqual(alice.replica.presence["alice"]!.data, { frame: 9 });
});

test("presence over the rate is answered rate_limited, and over the size presence_too_large", async (t) => {
  const { joined } = await startServer(t, { limits: { ...DEFAULT_LIMITS, presenceRate: 5 } });
  const alice = await joined("alice");
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => alice.presence({ i })));
  const codes = results.map((result) => (result.status === "fulfilled" ? "ok" : (result.reason as { code: string }).code));
  t.is(codes.filter((code) => code === "ok").length, 5, codes.join(","));
  t.true(codes.slice(5).every((code) => code === "rate_limited"), codes.join(","));
  const big = await joined("big");
  t.like(await t.throwsAsync(big.presence({ pad: "x".repeat(DEFAULT_LIMITS.presence) })), { code: "presence_too_large" });
});
