import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { Client } from "../../src/client/index.js";
import { KeyStore, readInvite } from "../../src/keys/index.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { serve } from "../helpers/serve.js";

async function nodesOf(t: any, cwd: string, state: string, commits: Array<[string, string]> = []) {
  const port = await freePortBlock(4);
  const server = await serve(t, ["--open", "--bind", "127.0.0.1", "--port", String(port), "--state", state], cwd);
  const invite = await readInvite(path.join(cwd, "keys", "invites", "host.invite"));
  const client = Client.fromInvite({ ...invite, server: { ...invite.server, port } });
  t.teardown(() => client.close());
  client.connect();
  await client.join();
  await client.sync();
  for (const [id, data] of commits) await client.commit(id, Buffer.from(data));
  const nodes = [...client.replica.nodes.values()].map((node) => [node.id, node.owner, Buffer.concat(node.parts).toString()]).sort();
  client.close();
  server.child.kill("SIGTERM");
  t.is((await server.exited).code, 0);
  return nodes;
}

test("export and import move a session to another state directory, whole", async (t) => {
  const cwd = await tempDir(t);
  await runCli(["init"], { cwd });
  const original = await nodesOf(t, cwd, "state", [["cube", "mesh data"], ["lamp", "light data"]]);
  const exported = await runCli(["export", "session.chs", "--state", "state"], { cwd });
  t.is(exported.code, 0, exported.stderr);
  t.regex(exported.stdout, /Exported the session up to seq \d+/);
  t.is((await fs.stat(path.join(cwd, "session.chs"))).mode & 0o777, 0o600);
  const imported = await runCli(["import", "session.chs", "--state", "moved"], { cwd });
  t.is(imported.code, 0, imported.stderr);
  t.deepEqual(await nodesOf(t, cwd, "moved"), original);
  t.deepEqual(original.map((node) => node[0]), ["cube", "lamp"]);
});

test("import refuses a damaged export and a directory that already holds a session, changing nothing", async (t) => {
  const cwd = await tempDir(t);
  await runCli(["init"], { cwd });
  await nodesOf(t, cwd, "state", [["cube", "mesh data"]]);
  await runCli(["export", "session.chs", "--state", "state"], { cwd });
  const into = await runCli(["import", "session.chs", "--state", "state"], { cwd });
  t.is(into.code, 1);
  t.regex(into.stderr, /already holds a session; import into an empty directory/);
  const data = await fs.readFile(path.join(cwd, "session.chs"));
  data[data.length - 30] = data[data.length - 30]! ^ 0xff;
  await fs.writeFile(path.join(cwd, "broken.chs"), data);
  const broken = await runCli(["import", "broken.chs", "--state", "fresh"], { cwd });
  t.is(broken.code, 1);
  t.regex(broken.stderr, /broken\.chs is not a usable session export: a record fails its checksum at byte \d+/);
  t.deepEqual(await fs.readdir(path.join(cwd, "fresh")).catch(() => []), []);
  const missing = await runCli(["export", "x.chs", "--state", "nowhere"], { cwd });
  t.regex(missing.stderr, /There is no state directory at .*nowhere/);
  await fs.mkdir(path.join(cwd, "backups"));
  const onDirectory = await runCli(["export", "backups", "--state", "state"], { cwd });
  t.is(onDirectory.stderr, `curvehost: ${path.join(cwd, "backups")} is a directory; name the file to export to.\n`);
  t.deepEqual(await fs.readdir(path.join(cwd, "backups")), []);
  t.true(await new KeyStore(path.join(cwd, "keys")).exists());
});

test("serve says clearly when the state directory cannot be written", async (t) => {
  const cwd = await tempDir(t);
  await fs.writeFile(path.join(cwd, "afile"), "x");
  const result = await runCli(["serve", "--state", "afile/state", "--port", String(await freePortBlock(4)), "--bind", "127.0.0.1"], { cwd });
  t.is(result.code, 1);
  t.regex(result.stderr, /^curvehost: Cannot write to the state directory .*afile\/state: ENOTDIR\.\n$/);
});
