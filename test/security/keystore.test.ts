import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { generateKeyPair } from "../../src/keys/index.js";
import { formatCertificate } from "../../src/keys/zcert.js";
import { attackCounter } from "../helpers/attacks.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";

const attacks = attackCounter("keystore");

test("revoked during a large transfer: the user is removed and the transfer stops", async (t) => {
  attacks.count();
  const { joined, client, store, server } = await startServer(t);
  const owner = await joined("owner");
  await Promise.all(Array.from({ length: 400 }, (_, i) => owner.commit(`big${i}`, Buffer.alloc(64 * 1024, i))));
  const leaver = await client("leaver");
  await leaver.join();
  const removed = nextEvent<[string, string]>(server, "departure", (name) => name === "leaver", 5000);
  const sync = leaver.sync().catch(() => {});
  await store.revoke("leaver");
  t.deepEqual(await removed, ["leaver", "revoked"]);
  await sync; // finished before the revocation landed, or cut off by it: either way the user is gone
  t.is(server.userCount, 1);
  const seen = nextEvent(owner, "event", committed("after"));
  await owner.commit("after", Buffer.from("x"));
  await seen;
});

test("a key that expires while its user is connected is removed", async (t) => {
  attacks.count();
  const { client, store, server } = await startServer(t, { pingIntervalMs: 100 });
  const keys = await generateKeyPair();
  await store.allow("temp", keys.publicKey, { role: "member", expires: new Date(Date.now() + 3_600_000).toISOString() });
  // Checked, then waited for, in one turn: the reload may have come already (the watcher is quick).
  if (!server.allows(keys.publicKey)) await nextEvent(server, "allowlist", () => server.allows(keys.publicKey), 5000);
  const temp = await client("temp", { keys });
  await temp.join();
  // Only once the user is in does the key get a near expiry (by hand, replacing the file whole): a slow
  // machine cannot let it lapse before the join.
  const file = path.join(store.allowedDir, "temp.key");
  const soon = new Date(Date.now() + 1000).toISOString();
  const removed = nextEvent<[string, string]>(server, "departure", (name) => name === "temp", 6000);
  await fs.writeFile(`${file}.new`, (await fs.readFile(file, "utf8")).replace(/expires = "[^"]*"/, () => `expires = "${soon}"`));
  await fs.rename(`${file}.new`, file);
  t.deepEqual(await removed, ["temp", "expired"]);
});

test("an allowlist file replaced atomically swaps the key: the old user is removed, the new key admitted", async (t) => {
  attacks.count();
  const { joined, store, server, client } = await startServer(t);
  await joined("bob");
  const replacement = await generateKeyPair();
  const file = path.join(store.allowedDir, "bob.key");
  const text = await fs.readFile(file, "utf8");
  const current = /public-key = "(.{40})"/.exec(text)![1]!;
  const removed = nextEvent<[string, string]>(server, "departure", (name) => name === "bob", 5000);
  // A function, not a replacement string: Z85 keys can hold "$&" and "$$", which a string would expand.
  await fs.writeFile(`${file}.new`, text.replace(current, () => replacement.publicKey));
  await fs.rename(`${file}.new`, file);
  t.deepEqual(await removed, ["bob", "revoked"]);
  if (!server.allows(replacement.publicKey)) await nextEvent(server, "allowlist", () => server.allows(replacement.publicKey), 5000);
  const newBob = await client("bob", { keys: replacement });
  t.like(await newBob.join(), { user: "bob" });
});

test("an allowlist file broken by a hand edit grants nothing: its user is removed and the error logged", async (t) => {
  attacks.count();
  const { joined, store, server, logs } = await startServer(t);
  await joined("carl");
  const removed = nextEvent<[string, string]>(server, "departure", (name) => name === "carl", 5000);
  await fs.writeFile(path.join(store.allowedDir, "carl.key"), "curve\n    public-key = \"half a key");
  t.deepEqual(await removed, ["carl", "revoked"]);
  t.truthy(logs.find((line) => line.event === "key_store" && /carl\.key is ignored/.test(line.msg)));
});

test("a key hand-copied back from revoked/ into allowed/ stays refused", async (t) => {
  attacks.count();
  const { allow, store, server } = await startServer(t);
  const keys = await allow("dora");
  const text = await fs.readFile(path.join(store.allowedDir, "dora.key"), "utf8");
  await store.revoke("dora");
  if (server.allows(keys.publicKey)) await nextEvent(server, "allowlist", () => !server.allows(keys.publicKey), 5000);
  const reloaded = nextEvent(server, "allowlist", () => true, 5000);
  await fs.writeFile(path.join(store.allowedDir, "dora.key"), text);
  await reloaded;
  t.false(server.allows(keys.publicKey));
});

test("a server secret made readable by others while running is reported at once", async (t) => {
  attacks.count();
  const { store, logs, server } = await startServer(t);
  const warned = nextEvent<[string]>(server, "warning", (message) => /chmod 600/.test(message), 5000);
  await fs.chmod(store.serverSecretFile, 0o644);
  await warned;
  t.truthy(logs.find((line) => line.event === "key_store" && /chmod 600/.test(line.msg)));
});

test("a key file that can no longer be read on a running server fails closed: its user is removed, the others stay, the host is told", async (t) => {
  attacks.count();
  const { joined, store, server, logs } = await startServer(t);
  await joined("erin");
  const frank = await joined("frank");
  const removed = nextEvent<[string, string]>(server, "departure", (name) => name === "erin", 5000);
  const warned = nextEvent<[string]>(server, "warning", (message) => /erin\.key cannot be read \(ELOOP\)/.test(message), 5000);
  // Replaced by a link to itself: opening it fails, so what it says is unknown (a chmod would not stop root).
  const file = path.join(store.allowedDir, "erin.key");
  await fs.rm(file);
  await fs.symlink("erin.key", file);
  t.deepEqual(await removed, ["erin", "revoked"]);
  await warned;
  t.truthy(logs.find((line) => line.event === "key_store" && /is not in order/.test(line.msg)));
  t.like(await frank.users(), [{ name: "frank" }]);
});

test("allowed/ made writable by others on a running server admits nothing new until fixed; joined users stay; the host is told the chmod", async (t) => {
  attacks.count();
  const { joined, store, server, logs } = await startServer(t);
  const gina = await joined("gina");
  const chmod = `run: chmod 700 ${store.allowedDir}`;
  const warned = nextEvent<[string]>(server, "warning", (message) => message.includes(chmod), 5000);
  await fs.chmod(store.allowedDir, 0o777);
  await warned;
  // Anyone could have planted this one meanwhile.
  const planted = await generateKeyPair();
  const heldBack = nextEvent<[string]>(server, "warning", (message) => /held back: hank/.test(message), 5000);
  const metadata = { name: "hank", role: "admin", created: new Date().toISOString() };
  await fs.writeFile(path.join(store.allowedDir, "hank.key"), formatCertificate({ publicKey: planted.publicKey, metadata }));
  await heldBack;
  t.false(server.allows(planted.publicKey));
  t.like(await gina.users(), [{ name: "gina" }]);
  t.truthy(logs.find((line) => line.event === "key_store" && line.msg.includes(chmod)));
  // The host fixes the mode (and would remove what they did not put there).
  const admitted = nextEvent(server, "allowlist", () => server.allows(planted.publicKey), 5000);
  await fs.chmod(store.allowedDir, 0o700);
  await admitted;
});
