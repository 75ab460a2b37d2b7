import test from "ava";
import { ServerError } from "../../src/client/index.js";
import { nextEvent, startServer } from "../helpers/server.js";
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
