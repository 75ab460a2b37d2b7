import test from "ava";
import type { Client } from "../../src/client/index.js";
import type { ServerEvent, UserInfo } from "../../src/protocol/index.js";
import { nextEvent, startServer } from "../helpers/server.js";

type UsersEvent = Extract<ServerEvent, { type: "users" }>;

function usersEventsOf(client: Client): UsersEvent[] {
  const seen: UsersEvent[] = [];
  client.on("event", (event: ServerEvent) => event.type === "users" && seen.push(event));
  return seen;
}

const names = (users: readonly UserInfo[]) => users.map((user) => user.name);

test("the first join of an interval is published at once; a join inside it waits for its end", async (t) => {
  const { client } = await startServer(t, { usersEventIntervalMs: 60_000 });
  const alice = await client("alice");
  const bob = await client("bob");
  const aliceWelcome = await alice.join();
  t.is(aliceWelcome.seq, 1, "alice's users event went out before her welcome");
  const bobWelcome = await bob.join();
  t.is(bobWelcome.seq, 1, "bob's waits for the interval to end");
  t.deepEqual(names(bobWelcome.users), ["alice", "bob"], "the welcome itself is always current");
});

test("joins inside one interval share one users event, which lists them all", async (t) => {
  const { allow, client } = await startServer(t, { usersEventIntervalMs: 4000 });
  const others = await Promise.all(["bob", "carol", "dan"].map(async (name) => ({ name, keys: await allow(name) })));
  const alice = await client("alice");
  await alice.join();
  await alice.sync();
  const seen = usersEventsOf(alice);
  const everyone = nextEvent<[UsersEvent]>(alice, "event", (event) => event.type === "users" && event.users.length === 4, 15_000);
  await Promise.all(
    others.map(async ({ name, keys }) => {
      const other = await client(name, { keys });
      await other.join();
    }),
  );
  const [event] = await everyone;
  t.deepEqual(names(event.users), ["alice", "bob", "carol", "dan"]);
  t.is(seen.length, 1, `one users event for three joins, not ${seen.map((each) => names(each.users)).join(" / ")}`);
  t.is(event.seq, 2, "no seq was skipped");
  t.is(alice.replica.seq, 2);
});

test("a departure is published as a users event without the user", async (t) => {
  const { joined } = await startServer(t, { usersEventIntervalMs: 50 });
  const alice = await joined("alice");
  const bob = await joined("bob");
  const without = nextEvent<[UsersEvent]>(alice, "event", (event) => event.type === "users" && !names(event.users).includes("bob"));
  await bob.leave();
  const [event] = await without;
  t.deepEqual(names(event.users), ["alice"]);
  t.deepEqual(names(alice.replica.users), ["alice"]);
});
