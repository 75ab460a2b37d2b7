import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { writeInvite, fingerprint } from "../../src/keys/index.js";
import { PYTHON } from "../helpers/python.js";
import { nextEvent, startServer } from "../helpers/server.js";
import { tempDir } from "../helpers/cli.js";

const SCRIPT = fileURLToPath(new URL("../../../examples/python/curvehost_client.py", import.meta.url));

function runScript(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`python client timed out: ${stderr}`))), timeoutMs);
    child.on("close", (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}

test("the Python client, written from PROTOCOL.md alone, joins, syncs, commits and receives", async (t) => {
  const { server, config, allow, joined } = await startServer(t);
  const ts = await joined("ts-user");
  await ts.commit("existing", Buffer.from("from typescript"));
  const keys = await allow("py-user");
  const dir = await tempDir(t);
  const invite = path.join(dir, "py.invite");
  await writeInvite(invite, {
    name: "py-user",
    role: "member",
    server: { host: "127.0.0.1", port: config.port, publicKey: server.publicKey, fingerprint: fingerprint(server.publicKey) },
    client: keys,
  });
  await fs.writeFile(path.join(dir, "cube.bin"), "from python");
  const fromPython = nextEvent<[any, Buffer[]]>(ts, "event", (event) => event.type === "commit" && event.id === "cube", 20_000);
  const run = runScript([invite, "--commit", `cube=${path.join(dir, "cube.bin")}`, "--expect", "late"]);
  await Promise.race([fromPython, run.then((r) => Promise.reject(new Error(`python exited early: ${r.stdout} ${r.stderr}`)))]);
  await ts.commit("late", Buffer.from("after python joined"));
  const result = await run;
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /joined as py-user \(member\), 1 nodes/);
  t.regex(result.stdout, /committed cube at seq \d+/);
  const final = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  t.is(Buffer.from(final.nodes.existing, "hex").toString(), "from typescript");
  t.is(Buffer.from(final.nodes.late, "hex").toString(), "after python joined");
  t.is(ts.replica.nodes.get("cube")!.owner, "py-user");
  t.is(Buffer.concat(ts.replica.nodes.get("cube")!.frames).toString(), "from python");
});
