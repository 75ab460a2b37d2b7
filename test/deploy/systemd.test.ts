/**
 * deploy/curvehost.service: systemd accepts it as written, its hardening stays
 * where it is, and its ExecStart, run for real, keeps everything it writes in
 * the unit's state directory and stops cleanly when systemd stops it.
 */
import test, { type ExecutionContext } from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { runToEnd, type RunResult } from "../helpers/run.js";
import { assertStopsCleanly, launch } from "./process.js";

const UNIT = fileURLToPath(new URL("../../../deploy/curvehost.service", import.meta.url));

/** The unit's directives, each with its values in the order they appear; comments and section headers left out. */
function directives(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) found.set(match[1]!, [...(found.get(match[1]!) ?? []), match[2]!]);
  }
  return found;
}

async function systemdAnalyze(args: string[]): Promise<RunResult> {
  try {
    return await runToEnd("systemd-analyze", args, { what: "systemd-analyze", timeoutMs: 30_000 });
  } catch (error) {
    if (/ENOENT/.test((error as Error).message)) throw new Error("systemd-analyze is missing: apt-get install -y systemd");
    throw error;
  }
}

/**
 * The unit with its ExecStart pointed at the built CLI, in a temporary folder.
 * `verify` refuses a unit whose ExecStart binary does not exist, and curvehost
 * is not installed in /usr/bin on a development or CI machine; the built CLI is
 * the file `npm install -g` links there (dist/src/cli/main.js, with its shebang
 * and execute bit). Every other line is checked as shipped.
 */
async function unitForThisMachine(t: ExecutionContext): Promise<string> {
  const text = await fs.readFile(UNIT, "utf8");
  const [execStart] = directives(text).get("ExecStart") ?? [];
  if (!execStart) throw new Error("the unit has no ExecStart");
  const binary = execStart.split(" ")[0]!;
  const copy = path.join(await tempDir(t), "curvehost.service");
  await fs.writeFile(copy, text.replace(`ExecStart=${binary} `, () => `ExecStart=${CLI} `));
  return copy;
}

test("systemd-analyze verify accepts the unit without a warning", async (t) => {
  const result = await systemdAnalyze(["verify", await unitForThisMachine(t)]);
  // verify exits 0 on an unknown key or a bad value and only warns: any output is a finding.
  t.is(result.code, 0, result.stderr);
  t.is(result.stderr + result.stdout, "");
});

test("the unit's hardening keeps its exposure, by systemd-analyze security, at 1.4 or less", async (t) => {
  // The threshold is in tenths. Dropping ProtectSystem=, ProtectHome=, NoNewPrivileges=, PrivateTmp=, the
  // user or the system call filter each raises the score; a change that lowers it should lower this bound.
  const result = await systemdAnalyze(["security", "--offline=true", "--threshold=14", await unitForThisMachine(t)]);
  t.is(result.code, 0, result.stdout.split("\n").filter((line) => line.includes("Overall")).join("") || result.stderr);
});

test("the unit's ExecStart, run for real, keeps keys and journal in its state directory, and stops cleanly on systemd's SIGTERM", async (t) => {
  const unit = directives(await fs.readFile(UNIT, "utf8"));
  const [stateName] = unit.get("StateDirectory") ?? [];
  const stateDir = `/var/lib/${stateName}`;
  // ProtectSystem=strict leaves only the state directory writable: the server must write nowhere else.
  t.deepEqual(unit.get("WorkingDirectory"), [stateDir]);
  const execStart = unit.get("ExecStart")![0]!;
  t.notRegex(execStart, /["'$%\\]/, "a plain command line, split here on spaces as systemd would");
  const [, command, ...args] = execStart.split(" ");
  t.is(command, "serve");
  const argument = (name: string) => args[args.indexOf(name) + 1];
  t.is(argument("--keys"), `${stateDir}/keys`);
  t.is(argument("--state"), `${stateDir}/state`);

  // The state directory as systemd makes it, in a temporary folder; free ports on 127.0.0.1 added.
  const dir = await tempDir(t);
  await fs.chmod(dir, 0o700);
  const port = await freePortBlock(4);
  const local = args.map((arg) => arg.replace(stateDir, () => dir));
  const server = launch(t, CLI, [command!, ...local, "--bind", "127.0.0.1", "--port", String(port)], { cwd: dir });
  await server.ready;
  t.regex(server.stderr(), new RegExp(`^  ${port}  command$`, "m"));
  t.true((await fs.stat(path.join(dir, "keys", "server.key_secret"))).isFile());
  t.true((await fs.stat(path.join(dir, "keys", "invites", "host.invite"))).isFile(), "the first invite");
  t.true((await fs.readdir(path.join(dir, "state"))).some((file) => file.startsWith("journal-")));
  t.deepEqual((await fs.readdir(dir)).sort(), ["keys", "state"], "nothing else written");
  // systemd's default KillMode=control-group: SIGTERM to every process of the unit, serve's relaunched server too.
  await assertStopsCleanly(t, server, { group: true });
});
