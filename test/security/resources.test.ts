import test from "ava";
import * as zmq from "zeromq";
import { generateKeyPair } from "../../src/keys/index.js";
import { attackCounter } from "../helpers/attacks.js";
import { joinByHand, rawPeer, receiveWithin, request } from "../helpers/raw.js";
import { nextEvent, startServer, type TestServer } from "../helpers/server.js";

const attacks = attackCounter("resources");
/** The bound we state for an honest commit's round trip while the server is under attack. */
const HONEST_ROUND_TRIP_MS = 2000;

/** An honest pair: a commit by one reaches the other, within the stated bound. */
async function honestRoundTrip(t: any, writer: any, reader: any, id: string): Promise<number> {
  const started = Date.now();
  const seen = nextEvent<[any]>(reader, "event", (event) => event.type === "commit" && event.id === id, 10_000);
  await writer.commit(id, Buffer.from(id));
  await seen;
  const elapsed = Date.now() - started;
  t.true(elapsed < HONEST_ROUND_TRIP_MS, `honest round trip took ${elapsed} ms`);
  return elapsed;
}

/** Two honest users. Generous request timeouts: the floods below load both cores. */
async function honest(server: TestServer) {
  const join = async (name: string) => {
    const client = await server.client(name, { client: { requestTimeoutMs: 20_000 } });
    await client.join();
    await client.sync();
    return client;
  };
  return { alice: await join("alice"), bob: await join("bob") };
}

test.serial("a flood of 300 handshakes with unknown keys does not disturb honest users", async (t) => {
  const server = await startServer(t);
  const { alice, bob } = await honest(server);
  const sockets: zmq.Dealer[] = [];
  for (let i = 0; i < 300; i++) {
    const stranger = await generateKeyPair();
    sockets.push(rawPeer(server.config.port, i % 4 === 1 ? 0 : i % 4, { serverPublicKey: server.server.publicKey, ...stranger }) as zmq.Dealer);
  }
  attacks.count(300);
  t.teardown(() => sockets.forEach((socket) => socket.close()));
  await honestRoundTrip(t, alice, bob, "during-flood");
  t.is(server.server.userCount, 2);
});

test.serial("a joined client that never reads its subscriber loses only its own messages", async (t) => {
  const server = await startServer(t);
  const { alice, bob } = await honest(server);
  const lazyKeys = await server.allow("lazy");
  const lazy = await joinByHand(server.config.port, server.server.publicKey, lazyKeys);
  const sub = rawPeer(server.config.port, 1, { serverPublicKey: server.server.publicKey, ...lazyKeys }) as zmq.Subscriber;
  t.teardown(() => (lazy.close(), sub.close()));
  attacks.count();
  const last = nextEvent<[any]>(bob, "event", (event) => event.type === "commit" && event.id === "n399", 20_000);
  await Promise.all(Array.from({ length: 400 }, (_, i) => alice.commit(`n${i}`, Buffer.alloc(64 * 1024, i))));
  await last;
  t.is(bob.replica.nodes.size, 400);
  await honestRoundTrip(t, alice, bob, "after-slow-reader");
});

test.serial("a member committing as fast as it can does not starve honest users", async (t) => {
  const server = await startServer(t);
  const { alice, bob } = await honest(server);
  const flooder = await joinByHand(server.config.port, server.server.publicKey, await server.allow("flooder"));
  t.teardown(() => flooder.close());
  let sent = 0;
  let stop = false;
  const flood = (async () => {
    while (!stop) {
      await flooder.publisher.send(request({ type: "commit", id: `f${sent % 100}`, kind: "", deps: [], mode: "full" }, [Buffer.alloc(1024)]));
      sent++;
    }
  })().catch(() => {}); // the flood ends when its socket closes, whatever the test's outcome
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push(await honestRoundTrip(t, alice, bob, `honest-${i}`));
  stop = true;
  await flood;
  attacks.count(sent);
  t.log(`${sent} flood commits; honest round trips ${times.join(", ")} ms`);
  t.true(sent > 100);
});

test.serial("a presence flood is rate limited and the others receive at most the allowed rate", async (t) => {
  const server = await startServer(t);
  const { alice, bob } = await honest(server);
  let presences = 0;
  bob.on("presence", () => presences++);
  const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => alice.metadata({ i })));
  attacks.count(300);
  const limited = results.filter((result) => result.status === "rejected" && (result.reason as { code?: string }).code === "rate_limited").length;
  t.true(limited >= 240, `${limited} of 300 were rate limited`);
  await honestRoundTrip(t, alice, bob, "after-presence");
  t.true(presences <= 60, `${presences} presence updates reached bob`);
});

test.serial("an oversized frame drops the sender's connection and disturbs nobody", async (t) => {
  const server = await startServer(t, { maxMessageSize: 256 * 1024 });
  const { alice, bob } = await honest(server);
  const big = await joinByHand(server.config.port, server.server.publicKey, await server.allow("big"));
  t.teardown(() => big.close());
  attacks.count();
  const dropped = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    big.publisher.events.on("disconnect", () => (clearTimeout(timer), resolve(true)));
  });
  await big.publisher.send(request({ type: "commit", id: "huge", kind: "", deps: [], mode: "full" }, [Buffer.alloc(1024 * 1024)]));
  t.true(await dropped, "the connection was dropped");
  t.is(await receiveWithin(big.publisher, 300), null);
  t.false(bob.replica.nodes.has("huge"));
  await honestRoundTrip(t, alice, bob, "after-oversize");
});
