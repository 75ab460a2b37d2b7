import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { AllowlistWatcher, KeyStore, KeyStoreError, generateKeyPair, type Allowlist, type WatchTiming } from "../../src/keys/index.js";
import { modeOf, tempDir } from "../helpers/cli.js";

async function newStore(t: Parameters<typeof tempDir>[0]): Promise<KeyStore> {
  const store = new KeyStore(path.join(await tempDir(t), "keys"));
  await store.create();
  return store;
}

test("the store tells allowed, expired, revoked and unknown keys apart", async (t) => {
  const store = await newStore(t);
  const [allowed, expiring, revoked, unknown] = await Promise.all([1, 2, 3, 4].map(() => generateKeyPair()));
  const expires = new Date(Date.now() + 60_000).toISOString();
  await store.allow("ann", allowed!.publicKey, { role: "admin", expires: null });
  await store.allow("eve", expiring!.publicKey, { role: "member", expires });
  await store.allow("rob", revoked!.publicKey, { role: "member", expires: null });
  await store.revoke("rob");
  const { allowlist, problems } = await store.readAllowlist();
  t.deepEqual(problems, []);
  const status = allowlist.status(allowed!.publicKey);
  t.is(status.state, "allowed");
  t.is(status.state === "allowed" && status.entry.role, "admin");
  t.is(allowlist.status(expiring!.publicKey).state, "allowed");
  t.is(allowlist.status(expiring!.publicKey, Date.parse(expires) + 1).state, "expired");
  t.is(allowlist.status(revoked!.publicKey).state, "revoked");
  t.is(allowlist.status(unknown!.publicKey).state, "unknown");
});

test("a revoked key stays refused even if its file is copied back into allowed/", async (t) => {
  const store = await newStore(t);
  const pair = await generateKeyPair();
  await store.allow("rob", pair.publicKey, { role: "member", expires: null });
  const allowedFile = path.join(store.allowedDir, "rob.key");
  const text = await fs.readFile(allowedFile, "utf8");
  await store.revoke("rob");
  await fs.writeFile(allowedFile, text);
  t.is((await store.readAllowlist()).allowlist.status(pair.publicKey).state, "revoked");
  await fs.rm(allowedFile);
  await store.allow("rob", pair.publicKey, { role: "member", expires: null });
  t.is((await store.readAllowlist()).allowlist.status(pair.publicKey).state, "allowed", "allow lifts a revocation");
});

test("duplicate names and duplicate keys are refused and change nothing", async (t) => {
  const store = await newStore(t);
  const [a, b] = [await generateKeyPair(), await generateKeyPair()];
  await store.allow("ann", a.publicKey, { role: "member", expires: null });
  await t.throwsAsync(store.allow("ann", b.publicKey, { role: "member", expires: null }), { instanceOf: KeyStoreError, message: /already allowed/ });
  await t.throwsAsync(store.allow("bea", a.publicKey, { role: "member", expires: null }), { message: /already allowed as ann/ });
  t.deepEqual(await fs.readdir(store.allowedDir), ["ann.key"]);
});

test("names that could leave the store or mean something else are refused", async (t) => {
  const store = await newStore(t);
  const pair = await generateKeyPair();
  for (const name of ["../x", "a/b", "", ".hidden", "x".repeat(65), "common", "a b"]) {
    await t.throwsAsync(store.allow(name, pair.publicKey, { role: "member", expires: null }), { instanceOf: KeyStoreError }, name);
  }
  t.deepEqual(await fs.readdir(store.allowedDir), []);
  t.deepEqual((await fs.readdir(path.dirname(store.dir))).sort(), ["keys"]);
});

test("the server secret is 0600 in a 0700 store, and a readable secret is refused with the fix", async (t) => {
  const store = await newStore(t);
  t.is(await modeOf(store.dir), 0o700);
  t.is(await modeOf(store.serverSecretFile), 0o600);
  t.truthy((await store.serverKeys()).secretKey);
  await fs.chmod(store.serverSecretFile, 0o644);
  await t.throwsAsync(store.serverKeys(), { message: `${store.serverSecretFile} holds a secret key but others can access it (mode 0644); run: chmod 600 ${store.serverSecretFile}` });
});

test("a store others can write to is refused", async (t) => {
  const store = await newStore(t);
  await fs.chmod(store.dir, 0o777);
  await t.throwsAsync(store.serverKeys(), { message: /can be written by others .*chmod 700/ });
});

test("a damaged allowlist file grants nothing and is reported", async (t) => {
  const store = await newStore(t);
  await fs.writeFile(path.join(store.allowedDir, "junk.key"), "curve\n    public-key = \"not a key\"\n");
  const { allowlist, problems } = await store.readAllowlist();
  t.deepEqual(allowlist.entries(), []);
  t.is(problems.length, 1);
  t.regex(problems[0]!, /junk\.key is ignored: its public-key \(line 2\) is not a 40-character Z85 key/);
});

/** A watcher on `store` and a way to wait, within 2 s, for the allowlist it reports to give `publicKey` a state. */
async function watch(t: Parameters<typeof tempDir>[0], store: KeyStore, timing: WatchTiming) {
  const changes: Allowlist[] = [];
  let notify: () => void = () => {};
  const watcher = new AllowlistWatcher(store, { onChange: (list) => (changes.push(list), notify()), onWarning: () => {} }, timing);
  t.teardown(() => watcher.stop());
  const first = await watcher.start();
  // The first change seen may be an atomic write's temporary file; wait for the state itself.
  const reaches = (publicKey: string, state: string) =>
    new Promise<Allowlist>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the key did not become ${state} within 2 s`)), 2000);
      notify = () => {
        const latest = changes.at(-1)!;
        if (latest.status(publicKey).state === state) (clearTimeout(timer), resolve(latest));
      };
    });
  return { first, reaches };
}

test("the watcher sees allow and revoke from the folders alone", async (t) => {
  const store = await newStore(t);
  const pair = await generateKeyPair();
  // Files are never checked one by one here: only the folders' change can show these.
  const { first, reaches } = await watch(t, store, { intervalMs: 50, filesEvery: Number.MAX_SAFE_INTEGER });
  t.is(first.status(pair.publicKey).state, "unknown");
  let seen = reaches(pair.publicKey, "allowed");
  await store.allow("ann", pair.publicKey, { role: "member", expires: null });
  t.is((await seen).status(pair.publicKey).state, "allowed");
  seen = reaches(pair.publicKey, "revoked");
  await store.revoke("ann");
  t.is((await seen).status(pair.publicKey).state, "revoked");
});

test("the watcher sees a key file edited in place, which leaves its folder unchanged", async (t) => {
  const store = await newStore(t);
  const [before, after] = await Promise.all([generateKeyPair(), generateKeyPair()]);
  await store.allow("ann", before!.publicKey, { role: "member", expires: null });
  const file = path.join(store.allowedDir, (await fs.readdir(store.allowedDir))[0]!);
  const folder = await fs.stat(store.allowedDir);
  const { first, reaches } = await watch(t, store, { intervalMs: 50, filesEvery: 2 });
  t.is(first.status(after!.publicKey).state, "unknown");
  const seen = reaches(after!.publicKey, "allowed");
  // The same inode rewritten, as an editor that saves in place does. The new key goes in through a
  // function: as a replacement string, a "$&" or "$$" in a Z85 key (about 1 key in 100) would be expanded.
  await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace(before!.publicKey, () => after!.publicKey));
  t.is((await fs.stat(store.allowedDir)).mtimeMs, folder.mtimeMs);
  const latest = await seen;
  t.is(latest.status(after!.publicKey).state, "allowed");
  t.is(latest.status(before!.publicKey).state, "unknown");
});

test("the watcher warns once when the server secret becomes readable by others", async (t) => {
  const store = await newStore(t);
  const warnings: string[] = [];
  let notify: () => void = () => {};
  const watcher = new AllowlistWatcher(store, { onChange: () => {}, onWarning: (w) => (warnings.push(w), notify()) }, { intervalMs: 50, filesEvery: 1 });
  t.teardown(() => watcher.stop());
  await watcher.start();
  const warned = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no warning within 2 s")), 2000);
    notify = () => (clearTimeout(timer), resolve());
  });
  await fs.chmod(store.serverSecretFile, 0o644);
  await warned;
  t.regex(warnings[0]!, /chmod 600/);
});
