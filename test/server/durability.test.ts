import test from "ava";
import path from "node:path";
import type { Client } from "../../src/client/index.js";
import { Client as CurvehostClient } from "../../src/client/index.js";
import { KeyStore, generateKeyPair } from "../../src/keys/index.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { serve } from "../helpers/serve.js";
import { nextEvent, startServer } from "../helpers/server.js";
import { prng, runSeed } from "../helpers/prng.js";

test("a restart restores nodes, owners, deltas, session state and seq from the journal", async (t) => {
  const state = path.join(await tempDir(t), "state");
  const first = await startServer(t, { initialState: "waiting", state: { dir: state, fsync: "batch", repair: false } });
  const admin = await first.joined("root", "admin");
  await admin.commit("base", Buffer.from("v1"));
  await admin.commit("base", Buffer.from("+d1"), { mode: "delta" });
  await admin.commit("gone", Buffer.from("x"));
  await admin.commit("shared", Buffer.from("s"), { owner: "common" });
  await admin.open();
  await admin.delete(["gone"]);
  const locked = (await admin.lock(["shared"])) as { seq: number };
  // The ok comes on the command port; the rights event may still be on its way on the subscriber port.
  if (admin.replica.seq < locked.seq) await nextEvent<[{ seq: number }]>(admin, "event", (event) => event.seq >= locked.seq, 3000);
  const before = snapshot(admin);
  const seq = admin.replica.seq;
  await first.server.stop();

  const second = await startServer(t, { initialState: "waiting", keys: first.store.dir, state: { dir: state, fsync: "batch", repair: false } });
  t.is(second.server.seq, seq + 1, "one more: the closing notice the stop published");
  const observer = await second.joined("observer");
  t.is(observer.replica.state, "open");
  t.deepEqual(snapshot(observer), before);
  t.deepEqual(observer.replica.nodes.get("base")!.parts.map(String), ["v1", "+d1"]);
  t.is(observer.replica.nodes.get("shared")!.owner, "root");
});

test("after a restart, a user who does not come back within the timeout loses its locks (one rights event)", async (t) => {
  const state = path.join(await tempDir(t), "state");
  const first = await startServer(t, { state: { dir: state, fsync: "batch", repair: false } });
  const bob = await first.joined("bob");
  await bob.commit("b1", Buffer.from("x"));
  await bob.commit("b2", Buffer.from("y"));
  await first.server.stop();
  const second = await startServer(t, { keys: first.store.dir, timeoutMs: 800, pingIntervalMs: 100, state: { dir: state, fsync: "batch", repair: false } });
  const watcher = await second.joined("watcher");
  t.is(watcher.replica.nodes.get("b1")!.owner, "bob");
  const [event] = await nextEvent<[any]>(watcher, "event", (e) => e.type === "rights" && e.from === "bob", 3000);
  t.deepEqual([...event.ids].sort(), ["b1", "b2"]);
  t.is(event.owner, "common");
});


test("SIGKILL at random points loses nothing any client saw published; clients rejoin and resync to the same state", async (t) => {
  const seed = runSeed();
  t.log(`seed ${seed} (CURVEHOST_SEED=${seed} repeats this run)`);
  const random = prng(seed);
  const cwd = await tempDir(t);
  const port = await freePortBlock(4);
  await runCli(["init"], { cwd });
  const store = new KeyStore(path.join(cwd, "keys"));
  const writerKeys = await generateKeyPair();
  const observerKeys = await generateKeyPair();
  await store.allow("writer", writerKeys.publicKey, { role: "admin", expires: null });
  await store.allow("observer", observerKeys.publicKey, { role: "member", expires: null });
  const serverPublicKey = await store.serverPublicKey();
  const args = ["--open", "--bind", "127.0.0.1", "--port", String(port), "--state", "state", "--fsync", "batch"];
  const connect = (keys: { publicKey: string; secretKey: string }) => {
    const client = new CurvehostClient({ host: "127.0.0.1", port, serverPublicKey, ...keys, requestTimeoutMs: 5000 });
    t.teardown(() => client.close());
    client.connect();
    return client;
  };
  /** Every event any client saw published, by seq, as JSON of the event with its data. */
  const seen = new Map<number, string>();
  const record = (client: Client) => client.on("event", (event) => void seen.set(event.seq, JSON.stringify(event)));

  for (let round = 0; round < 3; round++) {
    const server = await serve(t, args, cwd);
    const observer = connect(observerKeys);
    record(observer);
    await observer.join();
    await observer.sync();
    const writer = connect(writerKeys);
    record(writer);
    await writer.join();
    await writer.sync();
    // Everything published before the kill must come back: the writer keeps committing, locking and deleting.
    let stop = false;
    const work = (async () => {
      for (let i = 0; !stop; i++) {
        const id = `r${round}-n${i}`;
        await writer.commit(id, Buffer.from(`${id}:${random().toString(36)}`), { owner: i % 3 === 0 ? "common" : undefined });
        if (i % 5 === 4) await writer.lock([`r${round}-n${i - 1}`]);
        if (i % 7 === 6) await writer.delete([`r${round}-n${i - 2}`]);
      }
    })().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 150 + random() * 600)); // the random kill point
    server.child.kill("SIGKILL");
    stop = true;
    await server.exited;
    writer.close();
    observer.close();
    await work;
  }

  const server = await serve(t, args, cwd);
  const checker = connect(observerKeys);
  const replayed = new Map<number, string>();
  checker.on("event", (event) => void replayed.set(event.seq, JSON.stringify(event)));
  await checker.join();
  const fromEvents = await (async () => {
    await checker.resync(); // from seq 0: every event the journal holds
    return snapshot(checker);
  })();
  t.true(seen.size > 10, `only ${seen.size} events were seen`);
  let missing = 0;
  for (const [seq, event] of seen) if (replayed.get(seq) !== event) missing++;
  t.is(missing, 0, `${missing} of ${seen.size} events seen published are not in the restored journal as they were`);
  await checker.sync();
  t.deepEqual(snapshot(checker), fromEvents, "catalog and fetch give the state the events build");
  server.child.kill("SIGTERM");
  t.is((await server.exited).code, 0);
});

function snapshot(client: Client) {
  return [...client.replica.nodes.values()]
    .map((node) => ({ ...node, parts: node.parts.map((part) => part.toString("hex")) }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
