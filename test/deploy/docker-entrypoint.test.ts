/**
 * deploy/docker-entrypoint.sh, run for real without Docker: the image's data
 * directory is a temporary folder, and `curvehost` on PATH is the built CLI,
 * as `npm install -g` puts it on the image's PATH.
 */
import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { assertStopsCleanly, launch } from "./process.js";

const ENTRYPOINT = fileURLToPath(new URL("../../../deploy/docker-entrypoint.sh", import.meta.url));

test("the entrypoint serves with keys and journal in the data directory, passes its arguments on, and stops cleanly on SIGTERM", async (t) => {
  const root = await tempDir(t);
  const data = path.join(root, "data");
  // The image's two volumes: empty directories that belong to the server's user.
  for (const volume of ["keys", "state"]) await fs.mkdir(path.join(data, volume), { recursive: true, mode: 0o700 });
  const bin = path.join(root, "bin");
  await fs.mkdir(bin);
  await fs.symlink(CLI, path.join(bin, "curvehost"));
  const env = { ...process.env, CURVEHOST_DATA: data, PATH: [bin, path.dirname(process.execPath), process.env["PATH"]].join(":") };

  const port = await freePortBlock(4);
  // Run by its #!/bin/sh line, as Docker runs it (dash on Debian, as in the image).
  const server = launch(t, ENTRYPOINT, ["--bind", "127.0.0.1", "--port", String(port), "--session", "two words"], { cwd: data, env });
  await server.ready;
  t.regex(server.stderr(), /^curvehost serves session "two words" on 127\.0\.0\.1/m, "the arguments reached serve, quoting kept");
  t.regex(server.stderr(), new RegExp(`^  ${port + 3}  ttl$`, "m"));
  t.true((await fs.stat(path.join(data, "keys", "server.key_secret"))).isFile(), "the key store was created in the keys volume");
  t.true((await fs.stat(path.join(data, "keys", "invites", "host.invite"))).isFile());
  t.true((await fs.readdir(path.join(data, "state"))).some((file) => file.startsWith("journal-")), "the journal is in the state volume");
  // exec: the shell has become curvehost, so docker stop's SIGTERM, sent to this one process, reaches node.
  const commandLine = (await fs.readFile(`/proc/${server.child.pid}/cmdline`, "utf8")).split("\0");
  t.true(commandLine.includes("serve") && !commandLine.some((arg) => arg.endsWith("docker-entrypoint.sh")), commandLine.join(" "));

  await assertStopsCleanly(t, server);
});
