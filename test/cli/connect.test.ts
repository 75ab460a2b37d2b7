import test from "ava";
import { spawn } from "node:child_process";
import path from "node:path";
import { fingerprint, writeInvite } from "../../src/keys/index.js";
import { CLI, tempDir } from "../helpers/cli.js";
import { startServer } from "../helpers/server.js";
import { within } from "../helpers/wait.js";

test("connect shows what other users send with control characters escaped: no escape sequence reaches the terminal", async (t) => {
  const { server, config, allow, joined } = await startServer(t);
  const mallory = await joined("mallory");
  const keys = await allow("viewer");
  const dir = await tempDir(t);
  const inviteFile = path.join(dir, "viewer.invite");
  await writeInvite(inviteFile, {
    name: "viewer",
    role: "member",
    server: { host: "127.0.0.1", port: config.port, publicKey: server.publicKey, fingerprint: fingerprint(server.publicKey) },
    client: keys,
  });
  const child = spawn(process.execPath, [CLI, "connect", inviteFile], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  t.teardown(() => child.kill("SIGKILL"));
  let stdout = "";
  const printed = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => pattern.test(stdout) && (child.stdout.off("data", check), resolve());
      child.stdout.on("data", check);
      check();
    });
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("latin1")));
  await within(printed(/joined /), 15_000, "connect joining");
  // Clear the screen, and a bell, hidden in an id and a kind.
  const id = "cube\u001b[2J\u001b]0;owned\u0007";
  const shown = printed(/seq \d+ commit cube/);
  await mallory.commit(id, Buffer.from("x"), { kind: "mesh\u009b31m" });
  await within(shown, 15_000, "connect showing the commit");
  child.stdin.end("nodes\nquit\n");
  const code = await within(new Promise<number | null>((resolve) => child.on("exit", resolve)), 15_000, "connect quitting");
  t.is(code, 0, stdout);
  t.false(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(stdout), "no control character but newlines in the output");
  t.true(stdout.includes("cube\\u001b[2J\\u001b]0;owned\\u0007"), stdout);
  t.true(stdout.includes("mesh\\u009b31m"), stdout);
});
