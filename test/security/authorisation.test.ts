import test from "ava";
import { ServerError } from "../../src/client/index.js";
import type * as zmq from "zeromq";
import { frame, handshakeOutcome, joinByHand, rawPeer, receiveWithin } from "../helpers/raw.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";
import { within } from "../helpers/wait.js";
import { attackCounter } from "../helpers/attacks.js";

const attacks = attackCounter("authorisation");

test("a member cannot commit to, unlock or delete another member's node", async (t) => {
  attacks.count();
  const { joined } = await startServer(t);
  const alice = await joined("alice");
  const bob = await joined("bob");
  await alice.commit("hers", Buffer.from("a"));
  t.is(((await t.throwsAsync(bob.commit("hers", Buffer.from("b")), { instanceOf: ServerError })) as ServerError).code, "denied");
  t.is(((await t.throwsAsync(bob.unlock(["hers"]))) as ServerError).code, "denied");
  t.is(((await t.throwsAsync(bob.delete(["hers"]))) as ServerError).code, "denied");
  t.is(((await t.throwsAsync(bob.lock(["hers"]))) as ServerError).code, "denied");
  t.is(((await t.throwsAsync(bob.lock(["hers"], true))) as ServerError).code, "denied", "force is for admins");
  await bob.users(); // a round trip, so that anything wrongly published has arrived
  t.deepEqual(bob.replica.nodes.get("hers")!.parts.map(String), ["a"]);
  t.is(bob.replica.nodes.get("hers")!.owner, "alice");
});

test("a member cannot kick or open; an admin can, and can force", async (t) => {
  attacks.count();
  const { joined, server } = await startServer(t, { initialState: "waiting" });
  const admin = await joined("root", "admin");
  const member = await joined("bob");
  t.is(((await t.throwsAsync(member.open())) as ServerError).code, "denied");
  t.is(((await t.throwsAsync(member.kick("root"))) as ServerError).code, "denied");
  t.is(((await t.throwsAsync(member.commit("early", Buffer.from("x")))) as ServerError).code, "session_waiting");
  await admin.commit("scene", Buffer.from("admin may commit while waiting"));
  const opened = nextEvent(member, "event", (event: any) => event.type === "session" && event.state === "open");
  await admin.open();
  await opened;
  await member.commit("bobs", Buffer.from("x"));
  await admin.lock(["bobs"], true);
  const kicked = nextEvent(member, "kicked");
  await admin.kick("bob");
  t.deepEqual(await kicked, ["root"]);
  t.is(server.userCount, 1);
});

for (const way of ["leaves", "is kicked", "is revoked"] as const) {
  test(`a user's locks are released when the user ${way}`, async (t) => {
  attacks.count();
    const { joined, store } = await startServer(t);
    const admin = await joined("root", "admin");
    const bob = await joined("bob");
    await bob.commit("b1", Buffer.from("x"));
    await bob.commit("b2", Buffer.from("y"));
    const released = nextEvent(admin, "event", (event: any) => event.type === "rights" && event.owner === "common", 4000);
    if (way === "leaves") await bob.leave();
    if (way === "is kicked") await admin.kick("bob");
    if (way === "is revoked") await store.revoke("bob");
    const [event] = (await released) as [any];
    t.deepEqual([...event.ids].sort(), ["b1", "b2"]);
    t.is(admin.replica.nodes.get("b1")!.owner, "common");
  });
}

test("a revoked user's every connection is cut: nothing on any port answers it, not even hello", async (t) => {
  const { server, config, allow, joined, store } = await startServer(t);
  const alice = await joined("alice");
  const keys = await allow("mallory");
  const mallory = await joinByHand(config.port, server.publicKey, keys, { answerPings: true });
  t.teardown(() => mallory.close());
  // A second command connection of the same key, never joined: it too must go.
  const stray = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...keys }) as zmq.Dealer;
  t.teardown(() => stray.close());
  t.is(await handshakeOutcome(stray), "handshake");
  const cut = [mallory.command, mallory.publisher, stray].map((socket) => new Promise<void>((resolve) => socket.events.on("disconnect", () => resolve())));
  const removed = nextEvent(server, "departure", (name: string) => name === "mallory", 3000);
  await store.revoke("mallory");
  await removed;
  await within(Promise.all(cut), 5000, "the revoked user's connections being cut");
  for (const socket of [mallory.command, stray]) await socket.send(frame({ type: "hello", protocol: 2, ref: "after" }));
  t.is(await receiveWithin(mallory.command, 1000), null);
  t.is(await receiveWithin(stray, 500), null);
  // Everyone else reconnected by themselves and goes on.
  const seen = nextEvent(alice, "event", committed("after-revoke"), 5000);
  await alice.commit("after-revoke", Buffer.from("x"));
  await seen;
  t.pass();
});
