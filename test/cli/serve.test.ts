import test from "ava";
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { readInvite, writeInvite, generateKeyPair } from "../../src/keys/index.js";
import { CLI, runCli, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { serve } from "../helpers/serve.js";

async function running(t: any) {
  const cwd = await tempDir(t);
  const port = await freePortBlock(4);
  const server = await serve(t, ["--no-state", "--open", "--bind", "127.0.0.1", "--port", String(port), "--timeout", "3000"], cwd);
  const inviteFile = path.join(cwd, "keys", "invites", "host.invite");
  // The admin invite from the first run points at the default port; point it at this one.
  const invite = await readInvite(inviteFile);
  await writeInvite(inviteFile, { ...invite, server: { ...invite.server, port } });
  return { cwd, port, server, inviteFile };
}

test("serve initialises a store on first run and prints the ports, the key and how to invite", async (t) => {
  const { server, port, cwd } = await running(t);
  const banner = server.stderr();
  for (let i = 0; i < 4; i++) t.regex(banner, new RegExp(`^  ${port + i}  (command|subscriber|publisher|ttl)$`, "m"));
  t.regex(banner, /^Fingerprint: SHA256:\S{43}$/m);
  t.regex(banner, /curvehost invite NAME --host/);
  t.true((await fs.stat(path.join(cwd, "keys", "server.key_secret"))).isFile());
  t.regex(server.stdout(), /"event":"listening"/);
});

test("serve refuses a number of I/O threads that is not a whole number from 1 to 32, in one sentence, before touching anything", async (t) => {
  const cwd = await tempDir(t);
  for (const value of ["0", "-1", "1.5", "33"]) {
    const result = await runCli(["serve", "--io-threads", value, "--no-state"], { cwd });
    t.not(result.code, 0, value);
    t.regex(result.stderr, /--io-threads must be a whole number from 1 to 32\./, value);
    t.is(result.stderr.trim().split("\n").length, 1, "one line, no stack trace");
  }
  await t.throwsAsync(fs.stat(path.join(cwd, "keys")), undefined, "no key store was created");
});

test("serve, init and invite refuse a base port outside 1–65532 in the same sentence, before touching anything", async (t) => {
  const cwd = await tempDir(t);
  for (const value of ["0", "1.5", "65533"]) {
    for (const command of [["serve", "--no-state"], ["init"], ["invite", "alice", "--host", "example.org"]]) {
      const result = await runCli([...command, "--port", value], { cwd });
      t.not(result.code, 0, `${command[0]} ${value}`);
      t.is(result.stderr.trim(), "curvehost: The port must be a whole number from 1 to 65532 (the server uses it and the next three).", `${command[0]} ${value}`);
    }
  }
  await t.throwsAsync(fs.stat(path.join(cwd, "keys")), undefined, "no key store was created");
});

test("options that contradict each other, repeat, or lack their value are refused in one line, before anything is touched", async (t) => {
  const cwd = await tempDir(t);
  const refusals: Array<[string[], string]> = [
    [["serve", "--state", "journal", "--no-state"], "--state and --no-state contradict each other; give one of them."],
    [["serve", "--no-state", "--open", "--no-open"], "--open and --no-open contradict each other; give one of them."],
    [["serve", "--no-state", "--port", "6000", "--port", "6001"], "--port is given twice; give it once."],
    [["serve", "--no-state", "--repair"], "--repair has no journal to repair with --no-state; give one of them."],
    [["serve", "--no-state", "--fsync", "always"], "--fsync has no journal to flush with --no-state; give one of them."],
    [["serve", "--state="], "--state needs a value."],
    [["serve", "--no-state", "--keys"], "--keys needs a value."],
    [["serve", "--no-state", "--bind", "--open"], "--bind needs a value."],
    [["serve", "--no-keys", "--no-state"], "--no-keys means nothing: --keys takes a value."],
    [["serve", "--state", "keys/journal"], "--state keys/journal and --keys keys overlap; give the journal and the key store a directory each."],
    [["serve", "--state", ".", "--keys", "k"], "--state . and --keys k overlap; give the journal and the key store a directory each."],
    [["serve", "--state", "..journal", "--keys", "."], "--state ..journal and --keys . overlap; give the journal and the key store a directory each."],
    [["keys", "--keys", "a", "--keys", "b"], "--keys is given twice; give it once."],
    [["init", "--admin="], "--admin needs a value."],
    [["invite", "eve", "--host", "h", "--public-only", "--role", "admin"], "--public-only keeps the role and expiry the key was allowed with; drop --role and --expires, or --public-only."],
    [["invite", "eve", "--host", "h", "--public-only", "--expires", "7d"], "--public-only keeps the role and expiry the key was allowed with; drop --role and --expires, or --public-only."],
  ];
  for (const [args, sentence] of refusals) {
    const result = await runCli(args, { cwd });
    t.is(result.code, 2, args.join(" "));
    t.is(result.stderr, `curvehost: ${sentence} See: curvehost --help\n`, args.join(" "));
  }
  t.deepEqual(await fs.readdir(cwd), [], "no key store, no journal");
});

test("serve stops cleanly on SIGTERM within 2 seconds", async (t) => {
  const { server } = await running(t);
  const started = Date.now();
  server.child.kill("SIGTERM");
  const { code } = await server.exited;
  t.is(code, 0);
  t.true(Date.now() - started < 2000, `${Date.now() - started} ms`);
  t.regex(server.stdout(), /"event":"stopped"/);
});

test("check passes for a good invite and reports the round trip", async (t) => {
  const { cwd, inviteFile } = await running(t);
  const result = await runCli(["check", inviteFile], { cwd });
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /ok {4}CURVE handshake/);
  t.regex(result.stdout, /round trip \d+\.\d ms/);
  t.regex(result.stdout, /joined as host \(admin\); the subscriber, publisher and ttl ports accept your key/);
});

test("check names a closed port, a wrong server key and a key that is not allowed", async (t) => {
  const { cwd, port, inviteFile } = await running(t);
  const invite = await readInvite(inviteFile);
  const closedFile = path.join(cwd, "closed.invite");
  const closedPort = await freePortBlock(4);
  await writeInvite(closedFile, { ...invite, server: { ...invite.server, port: closedPort } });
  const closed = await runCli(["check", closedFile, "--timeout", "1000"], { cwd });
  t.is(closed.code, 1);
  t.regex(closed.stdout, new RegExp(`FAIL  port ${closedPort} \\(command\\): connection refused`));

  const wrongKeyFile = path.join(cwd, "wrong-key.invite");
  const impostor = await generateKeyPair();
  await writeInvite(wrongKeyFile, { ...invite, server: { ...invite.server, publicKey: impostor.publicKey } });
  const wrongKey = await runCli(["check", wrongKeyFile, "--timeout", "1500"], { cwd });
  t.is(wrongKey.code, 1);
  t.regex(wrongKey.stdout, /FAIL .*server key/);

  const strangerFile = path.join(cwd, "stranger.invite");
  await writeInvite(strangerFile, { ...invite, client: await generateKeyPair() });
  const stranger = await runCli(["check", strangerFile, "--timeout", "1500"], { cwd });
  t.is(stranger.code, 1);
  t.regex(stranger.stdout, /FAIL {2}the server refused your key: it is not allowed/);
  t.true(port > 0);
});

test("connect joins, commits a file as a node from a script, and leaves", async (t) => {
  const { cwd, inviteFile } = await running(t);
  await fs.writeFile(path.join(cwd, "cube.bin"), Buffer.alloc(2048, 1));
  const child = spawn(process.execPath, [CLI, "connect", inviteFile], { cwd, stdio: ["pipe", "pipe", "pipe"] });
  t.teardown(() => child.kill("SIGKILL"));
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stdin.end("commit cube cube.bin mesh\nnodes\nquit\n");
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  t.is(code, 0, stdout);
  t.regex(stdout, /joined "127\.0\.0\.1" as host \(admin\)/);
  t.regex(stdout, /committed cube at seq \d+/);
  t.regex(stdout, /cube mesh owner=host parts=1 bytes=2048/);
});

test("check works for a public-only invite with the collaborator's own key file", async (t) => {
  const { cwd, port } = await running(t);
  await runCli(["keygen", "dana", "--out", "me"], { cwd });
  await runCli(["allow", "dana", "me/dana.key"], { cwd });
  await runCli(["invite", "dana", "--public-only", "--host", "127.0.0.1", "--port", String(port), "--out", "dana.invite"], { cwd });
  const without = await runCli(["check", "dana.invite"], { cwd });
  t.is(without.code, 1);
  t.regex(without.stderr, /holds no secret key; give yours with --identity/);
  const result = await runCli(["check", "dana.invite", "--identity", "me/dana.key_secret"], { cwd });
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /joined as dana \(member\)/);
});

test("keys shows when a key last joined", async (t) => {
  const { cwd, server, inviteFile } = await running(t);
  const before = JSON.parse((await runCli(["keys", "--json"], { cwd })).stdout) as Array<{ name: string; lastSeen: string | null }>;
  t.is(before.find((row) => row.name === "host")!.lastSeen, null);
  t.is((await runCli(["check", inviteFile], { cwd })).code, 0);
  server.child.kill("SIGTERM"); // a stop writes what the server noted
  t.is((await server.exited).code, 0);
  const after = JSON.parse((await runCli(["keys", "--json"], { cwd })).stdout) as Array<{ name: string; lastSeen: string | null }>;
  const seen = after.find((row) => row.name === "host")!.lastSeen;
  t.truthy(seen);
  t.true(Date.now() - Date.parse(seen!) < 60_000);
});
