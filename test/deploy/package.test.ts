/**
 * The npm package: what `npm pack` puts in it, and that it installs from the
 * tarball (its dependencies from the registry) and runs: init, then serve,
 * from the folder it was installed in, as a user would.
 */
import test, { type ExecutionContext } from "ava";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { runToEnd, type RunResult } from "../helpers/run.js";
import { assertStopsCleanly, launch } from "./process.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const NPM_BOUND_MS = 180_000;

// Under `npm test` the environment holds npm's settings for this checkout (npm_config_local_prefix and
// the like); the npm commands below must run as a user's would. Each test file has a process of its own.
for (const name of Object.keys(process.env)) if (name.startsWith("npm_")) delete process.env[name];

/** What the tarball may hold, by path inside it: the built CLI and library with their types, and the docs. */
const SHIPPED = /^package\/(package\.json|README\.md|PROTOCOL\.md|SECURITY\.md|LICENSE|keys\/README\.md|dist\/src\/.+\.(js|d\.ts))$/;

function run(command: string, args: string[], cwd: string, timeoutMs = NPM_BOUND_MS): Promise<RunResult> {
  return runToEnd(command, args, { what: `${command} ${args.join(" ")}`, cwd, timeoutMs });
}

async function timed<T>(t: ExecutionContext, what: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work;
  t.log(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

let work: string | undefined;
test.after.always(() => work && fs.rm(work, { recursive: true, force: true }));

/**
 * `npm pack` of a copy of the built project, into which a key store (secrets,
 * an invite) has been put as `npm start` in a checkout puts one: what is
 * packed must leave it out. A copy, because pack must not run `prepare`
 * (a rebuild, which empties dist/ under the other tests) and nothing may be
 * written into the checkout; the real keys/ is not copied.
 */
const packed: Promise<{ tarball: string; entries: string[] }> = (async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "curvehost-package-"));
  const project = path.join(work, "project");
  const skip = new Set(["node_modules", ".git", "keys", "state"].map((name) => path.join(ROOT, name)));
  await fs.cp(ROOT, project, { recursive: true, filter: (source) => !skip.has(path.resolve(source)) });
  await fs.mkdir(path.join(project, "keys"));
  await fs.copyFile(path.join(ROOT, "keys", "README.md"), path.join(project, "keys", "README.md"));
  const init = await run(process.execPath, [CLI, "init", "--keys", path.join(project, "keys")], project, 20_000);
  if (init.code !== 0) throw new Error(`curvehost init failed: ${init.stderr}`);
  const pack = await run("npm", ["pack", "--ignore-scripts", "--pack-destination", work], project);
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const tarball = path.join(work, pack.stdout.trim().split("\n").pop()!);
  const list = await run("tar", ["-tzf", tarball], work, 20_000);
  if (list.code !== 0) throw new Error(`tar -tzf failed: ${list.stderr}`);
  return { tarball, entries: list.stdout.trim().split("\n") };
})();
packed.catch(() => {}); // reported by the tests that await it

test("the tarball holds the built CLI, its types and the docs, and no tests, secrets, invites or source maps", async (t) => {
  const { entries } = await packed;
  t.deepEqual(entries.filter((entry) => !SHIPPED.test(entry)), [], "only what SHIPPED allows");
  t.deepEqual(entries.filter((entry) => /(^|\/)tests?\/|\.test\./.test(entry)), [], "no test files");
  t.deepEqual(entries.filter((entry) => /\.key_secret$|\.invite$|_secret$/.test(entry)), [], "no secret keys, no invites");
  for (const needed of ["dist/src/cli/main.js", "dist/src/client/index.d.ts", "README.md", "PROTOCOL.md", "SECURITY.md", "keys/README.md"])
    t.true(entries.includes(`package/${needed}`), needed);
});

test("the tarball installs in an empty folder, and its curvehost initialises a key store, serves and stops cleanly", async (t) => {
  t.timeout(300_000);
  const { tarball } = await packed;
  const app = path.join(work!, "app");
  await fs.mkdir(app);
  // Without a package.json here npm would install into the nearest folder above that has one.
  await fs.writeFile(path.join(app, "package.json"), JSON.stringify({ name: "curvehost-install-test", private: true }) + "\n");
  const install = await timed(t, "npm install of the tarball", run("npm", ["install", "--no-audit", "--no-fund", tarball], app));
  t.is(install.code, 0, install.stderr);

  // --no: if the local curvehost were missing, npx would fetch whatever the registry has under that name.
  const port = await freePortBlock(4);
  const init = await timed(t, "npx curvehost init", run("npx", ["--no", "curvehost", "init", "--port", String(port)], app, 30_000));
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /Created the key store keys/);
  t.true((await fs.stat(path.join(app, "keys", "server.key_secret"))).isFile());

  // The installed binary, by the link npm made, from the folder: default ./keys (init's) and ./state.
  const server = launch(t, path.join(app, "node_modules", ".bin", "curvehost"), ["serve", "--bind", "127.0.0.1", "--port", String(port)], { cwd: app });
  await timed(t, "serve until its banner", server.ready);
  t.true((await fs.readdir(path.join(app, "state"))).some((file) => file.startsWith("journal-")));
  // A real client through every port: the installed zeromq's native addon and CURVE work.
  const check = await timed(t, "npx curvehost check", run("npx", ["--no", "curvehost", "check", "keys/invites/host.invite"], app, 30_000));
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /All good/);
  await assertStopsCleanly(t, server);
});
