import test, { type ExecutionContext } from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { KeyStore, fingerprint, generateKeyPair, readInvite } from "../../src/keys/index.js";
import { modeOf, runCli, tempDir } from "../helpers/cli.js";

// The tests added for issue 18 run a dozen CLIs each: serially, before the others, so that the file
// starts no more node processes at once than it did (on a loaded machine, each needs its turn).

/** A temporary working directory with an initialised store at ./keys. */
async function initialised(t: ExecutionContext): Promise<{ cwd: string; keys: string }> {
  const cwd = await tempDir(t);
  const result = await runCli(["init"], { cwd });
  t.is(result.code, 0, result.stderr);
  return { cwd, keys: path.join(cwd, "keys") };
}

function oneSentenceError(t: ExecutionContext, result: { code: number | null; stderr: string; stdout: string }, pattern: RegExp) {
  t.not(result.code, 0);
  t.regex(result.stderr, pattern);
  t.is(result.stderr.trim().split("\n").length, 1, "one line, no stack trace");
  t.notRegex(result.stderr, /\bat .*\.js:\d+/);
}

test("init creates the server key and the host's admin key, with private modes", async (t) => {
  const cwd = await tempDir(t);
  const result = await runCli(["init"], { cwd });
  t.is(result.code, 0);
  t.regex(result.stdout, /server key {3}SHA256:\S{43}/);
  t.regex(result.stdout, /admin key {4}host {2}SHA256:\S{43}/);
  const keys = path.join(cwd, "keys");
  t.is(await modeOf(keys), 0o700);
  t.is(await modeOf(path.join(keys, "server.key_secret")), 0o600);
  t.is(await modeOf(path.join(keys, "invites", "host.invite")), 0o600);
  for (const dir of ["allowed", "revoked", "invites"]) t.is(await modeOf(path.join(keys, dir)), 0o700);
  const invite = await readInvite(path.join(keys, "invites", "host.invite"));
  t.is(invite.role, "admin");
  t.is(invite.server.publicKey, await new KeyStore(keys).serverPublicKey());
  t.notRegex(result.stdout + result.stderr, new RegExp(escape(invite.client.secretKey!)), "no secret printed");
});

test("init refuses to overwrite an existing store and changes nothing", async (t) => {
  const { cwd, keys } = await initialised(t);
  const before = await fs.readFile(path.join(keys, "server.key_secret"));
  oneSentenceError(t, await runCli(["init"], { cwd }), /already exists/);
  t.deepEqual(await fs.readFile(path.join(keys, "server.key_secret")), before);
});

test("keygen writes a keypair for a collaborator and prints only the public key", async (t) => {
  const cwd = await tempDir(t);
  const result = await runCli(["keygen", "alice"], { cwd });
  t.is(result.code, 0, result.stderr);
  t.is(await modeOf(path.join(cwd, "alice.key_secret")), 0o600);
  const secret = (await fs.readFile(path.join(cwd, "alice.key_secret"), "utf8")).match(/secret-key = "(.{40})"/)![1]!;
  const publicKey = (await fs.readFile(path.join(cwd, "alice.key"), "utf8")).match(/public-key = "(.{40})"/)![1]!;
  t.true(result.stdout.includes(publicKey));
  t.false(result.stdout.includes(secret));
  oneSentenceError(t, await runCli(["keygen", "alice"], { cwd }), /already exists/);
});

test("allow takes a key as text or as a file, with role and expiry; keys lists it as JSON", async (t) => {
  const { cwd } = await initialised(t);
  await runCli(["keygen", "alice", "--out", "me"], { cwd });
  await runCli(["keygen", "bob", "--out", "me"], { cwd });
  const bobKey = (await fs.readFile(path.join(cwd, "me", "bob.key"), "utf8")).match(/public-key = "(.{40})"/)![1]!;
  t.is((await runCli(["allow", "alice", "me/alice.key", "--role", "admin", "--expires", "2099-01-01"], { cwd })).code, 0);
  const allowBob = await runCli(["allow", "bob", bobKey], { cwd });
  t.is(allowBob.code, 0, allowBob.stderr);
  t.regex(allowBob.stdout, /within 2 seconds/);
  const listed = JSON.parse((await runCli(["keys", "--json"], { cwd })).stdout) as any[];
  const byName = Object.fromEntries(listed.map((row) => [row.name, row]));
  t.deepEqual(Object.keys(byName).sort(), ["alice", "bob", "host"]);
  t.is(byName["alice"].role, "admin");
  t.is(byName["alice"].expires, "2099-01-01T23:59:59.999Z");
  t.is(byName["bob"].publicKey, bobKey);
  t.is(byName["bob"].state, "allowed");
  const text = (await runCli(["keys"], { cwd })).stdout;
  t.regex(text, /^NAME +ROLE +STATE +FINGERPRINT +ADDED +EXPIRES +LAST SEEN$/m);
  t.regex(text, /^bob +member +allowed +SHA256:/m);
});

/** A public key that starts with `prefix` (about 1 key in 85 starts with "-", 1 in 7,225 with "--"). */
async function keyStartingWith(prefix: string, exclude: RegExp = /^$/): Promise<string> {
  for (;;) {
    const { publicKey } = await generateKeyPair();
    if (publicKey.startsWith(prefix) && !exclude.test(publicKey)) return publicKey;
  }
}

test.serial("a key that starts with \"-\" is taken as it is, with or without \"--\" before it, and so is a fingerprint after \"--\"", async (t) => {
  const { cwd } = await initialised(t);
  const dash = await keyStartingWith("-", /^--/);
  // A key that reads as a long option (--name or --name=...) needs "--"; any other works as it is.
  const double = await keyStartingWith("--", /^--[a-z][a-z-]*(=|$)/);
  const other = await keyStartingWith("-", /^--/);
  const results = [
    await runCli(["allow", "bob", dash], { cwd }),
    await runCli(["allow", "carol", double, "--role", "admin"], { cwd }),
    await runCli(["allow", "--expires", "7d", "dan", "--", other], { cwd }),
  ];
  for (const result of results) t.is(result.code, 0, result.stderr);
  const listed = JSON.parse((await runCli(["keys", "--json"], { cwd })).stdout) as any[];
  const byName = Object.fromEntries(listed.map((row) => [row.name, row]));
  t.is(byName["bob"].publicKey, dash);
  t.is(byName["carol"].publicKey, double);
  t.is(byName["carol"].role, "admin");
  t.is(byName["dan"].publicKey, other);
  t.truthy(byName["dan"].expires);
  // After "--" everything is an operand: a fingerprint, and a name.
  t.is((await runCli(["revoke", "--", fingerprint(dash)], { cwd })).code, 0);
  t.is((await runCli(["revoke", "--", "carol"], { cwd })).code, 0);
  const after = JSON.parse((await runCli(["keys", "--json"], { cwd })).stdout) as any[];
  t.deepEqual(after.filter((row) => row.state === "revoked").map((row) => row.name).sort(), ["bob", "carol"]);
});

test("allow refuses bad names, duplicates, bad keys and past expiries, leaving the allowlist as it was", async (t) => {
  const { cwd, keys } = await initialised(t);
  await runCli(["keygen", "alice", "--out", "me"], { cwd });
  t.is((await runCli(["allow", "alice", "me/alice.key"], { cwd })).code, 0);
  const before = (await fs.readdir(path.join(keys, "allowed"))).sort();
  oneSentenceError(t, await runCli(["allow", "../evil", "me/alice.key"], { cwd }), /is not allowed: use letters/);
  oneSentenceError(t, await runCli(["allow", "x".repeat(65), "me/alice.key"], { cwd }), /longer than 64/);
  oneSentenceError(t, await runCli(["allow", "alice", "me/alice.key"], { cwd }), /already allowed/);
  oneSentenceError(t, await runCli(["allow", "carol", "me/alice.key"], { cwd }), /already allowed as alice/);
  oneSentenceError(t, await runCli(["allow", "carol", "not-a-key"], { cwd }), /neither a 40-character Z85 public key nor a key file/);
  oneSentenceError(t, await runCli(["allow", "carol", "me/alice.key", "--expires", "2001-01-01"], { cwd }), /already past/);
  oneSentenceError(t, await runCli(["allow", "carol", "me/alice.key", "--role", "god"], { cwd }), /Invalid values/);
  t.deepEqual((await fs.readdir(path.join(keys, "allowed"))).sort(), before);
});

test.serial("no error repeats a secret key: a broken key file is named by file and line, a misplaced key not quoted", async (t) => {
  const { cwd, keys } = await initialised(t);
  await runCli(["keygen", "alice", "--out", "me"], { cwd });
  const secretFile = path.join(cwd, "me", "alice.key_secret");
  const text = await fs.readFile(secretFile, "utf8");
  const secret = /secret-key = "(.{40})"/.exec(text)![1]!;
  const line = text.split("\n").findIndex((l) => l.includes("secret-key")) + 1;
  // The closing quote lost and a word after it: the line is no longer "name = value".
  await fs.writeFile(secretFile, text.replace(`"${secret}"`, () => `"${secret} oops`));
  const results = [
    await runCli(["allow", "carol", "me/alice.key_secret"], { cwd }),
    await runCli(["allow", "carol", `${secret}x`], { cwd }), // one character too many
    await runCli(["allow", secret, "carol"], { cwd }), // arguments swapped
    await runCli(["allow", "carol", "me/alice.key", secret], { cwd }), // one argument too many
    await runCli(["allow", "carol", `-${secret}`], { cwd }), // one character too many, and a leading "-" (as 1 key in 85 has)
  ];
  oneSentenceError(t, results[0]!, new RegExp(`alice\\.key_secret is not a certificate: its line ${line} is not "name = value"\\.`));
  oneSentenceError(t, results[1]!, /The KEY given \(41 characters\) is neither a 40-character Z85 public key nor a key file\./);
  oneSentenceError(t, results[2]!, /A 40-character key was given where a name belongs: give the name first, then the key\./);
  oneSentenceError(t, results[3]!, /Unknown argument: \(a key\)/);
  oneSentenceError(t, results[4]!, /The KEY given \(41 characters\) is neither a 40-character Z85 public key nor a key file\./);
  // A secret certificate dropped into allowed/ by hand, broken the same way: reported without its secret.
  await fs.copyFile(secretFile, path.join(keys, "allowed", "alice.key"));
  const listed = await runCli(["keys"], { cwd });
  t.regex(listed.stderr, new RegExp(`alice\\.key is ignored: its line ${line} is not "name = value"`));
  for (const result of [...results, listed]) {
    for (let i = 0; i + 8 <= secret.length; i++) t.false((result.stdout + result.stderr).includes(secret.slice(i, i + 8)), result.stderr);
  }
  t.deepEqual((await fs.readdir(path.join(keys, "allowed"))).sort(), ["alice.key", "host.key"], "no carol was allowed");
});

test("invite issues a keypair, allows it and writes one 0600 file with a warning", async (t) => {
  const { cwd, keys } = await initialised(t);
  const result = await runCli(["invite", "carol", "--host", "example.org", "--port", "6000", "--role", "admin"], { cwd });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /holds carol's secret key/);
  const file = path.join(keys, "invites", "carol.invite");
  t.is(await modeOf(file), 0o600);
  const invite = await readInvite(file);
  t.deepEqual([invite.name, invite.role, invite.server.host, invite.server.port], ["carol", "admin", "example.org", 6000]);
  t.truthy(invite.client.secretKey);
  t.regex(await fs.readFile(file, "utf8"), /"warning": "This file holds a secret key/);
  const { allowlist } = await new KeyStore(keys).readAllowlist();
  t.is(allowlist.status(invite.client.publicKey).state, "allowed");
  t.false(result.stdout.includes(invite.client.secretKey!));
});

test("invite --public-only writes no secret, for a key that is already allowed", async (t) => {
  const { cwd } = await initialised(t);
  await runCli(["keygen", "dan", "--out", "me"], { cwd });
  oneSentenceError(t, await runCli(["invite", "dan", "--host", "h", "--public-only", "--out", "dan.invite"], { cwd }), /No key named dan is allowed/);
  await runCli(["allow", "dan", "me/dan.key"], { cwd });
  const result = await runCli(["invite", "dan", "--host", "h", "--public-only", "--out", "dan.invite"], { cwd });
  t.is(result.code, 0, result.stderr);
  const invite = await readInvite(path.join(cwd, "dan.invite"));
  t.is(invite.client.secretKey, undefined);
  t.notRegex(await fs.readFile(path.join(cwd, "dan.invite"), "utf8"), /secret/i);
});

test("invite refuses a bad host or port", async (t) => {
  const { cwd } = await initialised(t);
  oneSentenceError(t, await runCli(["invite", "eve", "--host", "bad host"], { cwd }), /not a host name/);
  oneSentenceError(t, await runCli(["invite", "eve", "--host", "h", "--port", "65534"], { cwd }), /port must be a whole number/);
  t.false((await runCli(["keys"], { cwd })).stdout.includes("eve"));
});

test("revoke by name or fingerprint moves the key to revoked/ and removes its invite", async (t) => {
  const { cwd, keys } = await initialised(t);
  await runCli(["invite", "fay", "--host", "h"], { cwd });
  await runCli(["invite", "gus", "--host", "h"], { cwd });
  t.is((await runCli(["revoke", "fay"], { cwd })).code, 0);
  const gus = await readInvite(path.join(keys, "invites", "gus.invite"));
  const listed = JSON.parse((await runCli(["keys", "--json"], { cwd })).stdout) as any[];
  const gusPrint = listed.find((row) => row.name === "gus").fingerprint;
  t.is((await runCli(["revoke", gusPrint], { cwd })).code, 0);
  t.deepEqual((await fs.readdir(path.join(keys, "revoked"))).sort(), ["fay.key", "gus.key"]);
  t.deepEqual(await fs.readdir(path.join(keys, "invites")), ["host.invite"]);
  const { allowlist } = await new KeyStore(keys).readAllowlist();
  t.is(allowlist.status(gus.client.publicKey).state, "revoked");
  oneSentenceError(t, await runCli(["revoke", "nobody"], { cwd }), /No allowed key is named or fingerprinted nobody/);
  oneSentenceError(t, await runCli(["revoke", ""], { cwd }), /^curvehost: A name cannot be empty\.$/m);
  oneSentenceError(t, await runCli(["revoke", "SHA256:abc"], { cwd }), /^curvehost: SHA256:abc is not a fingerprint: those are SHA256: and 43 characters of base64\.$/m);
});

test.serial("revoke NAME revokes every file that names it, and a key folder others can write to is named with the chmod that fixes it", async (t) => {
  const { cwd, keys } = await initialised(t);
  await runCli(["invite", "bob", "--host", "h"], { cwd });
  await runCli(["keygen", "robert", "--out", "me"], { cwd });
  // A second key for bob, put in by hand under a numbered name.
  await fs.copyFile(path.join(cwd, "me", "robert.key"), path.join(keys, "allowed", "bob~2.key"));
  t.regex((await runCli(["keys"], { cwd })).stderr, /bob~2\.key is ignored: a name has one file in allowed\/, bob\.key; numbered copies belong in revoked\/\./);
  const revoked = await runCli(["revoke", "bob"], { cwd });
  t.is(revoked.code, 0, revoked.stderr);
  t.is(revoked.stdout.match(/^Revoked bob \(SHA256:\S{43}\)\.$/gm)?.length, 2, revoked.stdout);
  t.regex(revoked.stdout, /refuses the keys and removes their users within 2 seconds/);
  t.deepEqual(await fs.readdir(path.join(keys, "allowed")), ["host.key"]);
  t.deepEqual((await fs.readdir(path.join(keys, "revoked"))).sort(), ["bob.key", "bob~2.key"]);

  const allowed = path.join(keys, "allowed");
  await fs.chmod(allowed, 0o777);
  const listed = await runCli(["keys"], { cwd });
  t.is(listed.code, 0);
  t.regex(listed.stderr, new RegExp(`^warning: ${escape(allowed)} can be written by others \\(mode 0777\\); run: chmod 700 ${escape(allowed)}; until this is fixed`, "m"));
  oneSentenceError(t, await runCli(["allow", "robert", "me/robert.key"], { cwd }), /^curvehost: The key store is not in order \(.*allowed can be written by others \(mode 0777\); run: chmod 700 .*allowed\); fix that first, nothing was changed\.$/m);
  t.deepEqual(await fs.readdir(allowed), ["host.key"]);
});

test("rotate replaces the server key and updates the invites kept in the store", async (t) => {
  const { cwd, keys } = await initialised(t);
  await runCli(["invite", "hal", "--host", "h"], { cwd });
  await runCli(["keygen", "ida", "--out", "me"], { cwd });
  await runCli(["allow", "ida", "me/ida.key"], { cwd });
  const store = new KeyStore(keys);
  const before = await store.serverPublicKey();
  const result = await runCli(["rotate"], { cwd });
  t.is(result.code, 0, result.stderr);
  const after = await store.serverPublicKey();
  t.not(after, before);
  t.is((await store.serverKeys()).publicKey, after);
  t.is((await readInvite(path.join(keys, "invites", "hal.invite"))).server.publicKey, after);
  t.regex(result.stdout, /hand them out again: (host, hal|hal, host)/);
  t.regex(result.stdout, /--public-only --host HOST: ida/);
  t.is(await modeOf(store.serverSecretFile), 0o600);
});

test("commands on a missing store say how to create one", async (t) => {
  const cwd = await tempDir(t);
  for (const args of [["keys"], ["allow", "a", "x"], ["revoke", "a"], ["rotate"], ["invite", "a", "--host", "h"]]) {
    oneSentenceError(t, await runCli(args, { cwd }), /There is no key store in .*; run: curvehost init/);
  }
  t.deepEqual(await fs.readdir(cwd), []);
});

test("a secret readable by others is refused with the chmod that fixes it", async (t) => {
  const { cwd, keys } = await initialised(t);
  await fs.chmod(path.join(keys, "server.key_secret"), 0o640);
  oneSentenceError(t, await runCli(["rotate"], { cwd }), /others can access it \(mode 0640\); run: chmod 600 .*server\.key_secret/);
});

test("an unknown command or option is one sentence and exit 2", async (t) => {
  const cwd = await tempDir(t);
  const result = await runCli(["frobnicate"], { cwd });
  t.is(result.code, 2);
  t.regex(result.stderr, /^curvehost: Unknown argument: frobnicate\. See: curvehost --help\n$/);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
