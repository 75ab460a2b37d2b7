/**
 * `curvehost serve` started without the server's node flags runs itself again
 * in a child node that has them (src/cli/relaunch.ts). These tests start the
 * real binary as a host would, then look at the processes in /proc.
 */
import test, { type ExecutionContext } from "ava";
import { promises as fs } from "node:fs";
import { SERVER_NODE_FLAGS } from "../../src/cli/relaunch.js";
import { tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { serve, startServe, type ServeProcess } from "../helpers/serve.js";
import { within } from "../helpers/wait.js";

const BOUND_MS = 10_000;

/** A process's state letter and parent pid from /proc/PID/stat, or null once it is gone. */
async function processStat(pid: number): Promise<{ state: string; parentPid: number } | null> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return null;
  // The command name is in parentheses and may hold spaces; the state and the parent pid are the two fields after it.
  const [state, parentPid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: state!, parentPid: Number(parentPid) };
}

/** The pids whose parent is `pid`: from the kernel's list when it keeps one, else by scanning /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const listed = await fs.readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => null);
  if (listed !== null) return listed.split(" ").filter(Boolean).map(Number);
  const pids: number[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (/^\d+$/.test(entry) && (await processStat(Number(entry)))?.parentPid === pid) pids.push(Number(entry));
  }
  return pids;
}

/** Resolves with the first child of `pid`, looking every 10 ms, within BOUND_MS. */
async function firstChildOf(pid: number): Promise<number> {
  const found = (async () => {
    for (;;) {
      const [child] = await childrenOf(pid);
      if (child !== undefined) return child;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return within(found, BOUND_MS, `a child of pid ${pid}`);
}

/** `curvehost serve` with the given node flags (none: as a host starts it), and the pid of its one child if it has one. */
async function launch(t: ExecutionContext, nodeFlags: readonly string[] = []): Promise<ServeProcess & { server: number }> {
  const port = await freePortBlock(4);
  const launched = await serve(t, ["--no-state", "--bind", "127.0.0.1", "--port", String(port)], await tempDir(t), { nodeFlags });
  const children = await childrenOf(launched.child.pid!);
  return { ...launched, server: children.length === 1 ? children[0]! : NaN };
}

const exitCode = async (launched: ServeProcess) => (await within(launched.exited, BOUND_MS, "the parent's exit")).code;
const stops = (launched: ServeProcess) => launched.stdout().match(/"event":"stopped"/g)?.length ?? 0;

test("serve started without the node flags runs the server in one child node that has them, and SIGTERM stops it cleanly", async (t) => {
  const launched = await launch(t);
  t.false(Number.isNaN(launched.server), "exactly one child process");
  const commandLine = (await fs.readFile(`/proc/${launched.server}/cmdline`, "utf8")).split("\0");
  for (const flag of SERVER_NODE_FLAGS) t.true(commandLine.includes(flag), `${flag} in ${commandLine.join(" ")}`);
  t.true(commandLine.includes("serve"));

  launched.child.kill("SIGTERM");
  t.is(await exitCode(launched), 0, launched.stderr());
  await within(launched.closed, BOUND_MS, "the server's exit");
  t.is(stops(launched), 1, "the server stopped cleanly, once");
});

test("serve started with the node flags runs the server in its own process", async (t) => {
  const launched = await launch(t, SERVER_NODE_FLAGS);
  t.deepEqual(await childrenOf(launched.child.pid!), []);
  launched.child.kill("SIGTERM");
  t.is(await exitCode(launched), 0);
});

test("a Ctrl-C, which reaches the parent and the server alike, stops the server cleanly once", async (t) => {
  const launched = await launch(t);
  process.kill(-launched.child.pid!, "SIGINT");
  t.is(await exitCode(launched), 0, launched.stderr());
  await within(launched.closed, BOUND_MS, "the server's exit");
  t.is(stops(launched), 1);
});

test("if the parent is killed, the server notices and stops cleanly by itself", async (t) => {
  const launched = await launch(t);
  launched.child.kill("SIGKILL");
  await within(launched.closed, BOUND_MS, "the server's exit"); // it holds the output open until it exits
  t.is(stops(launched), 1);
  // Gone, or a zombie until whatever adopted it reaps it.
  const state = (await processStat(launched.server))?.state ?? "gone";
  t.true(state === "gone" || state === "Z", `the server process is in state ${state}`);
});

test("a SIGINT that ends the server process during its startup ends serve quietly, by that signal, as one process would end", async (t) => {
  const launched = startServe(t, ["--no-state", "--bind", "127.0.0.1", "--port", String(await freePortBlock(4))], await tempDir(t), { nodeFlags: [] });
  launched.ready.catch(() => {}); // no banner is expected
  // As soon as the server process exists, long before it has loaded the server and its handlers. Only it gets
  // the signal: a Ctrl-C reaches both processes, but the parent may see the server's death before its own signal.
  const server = await firstChildOf(launched.child.pid!);
  process.kill(server, "SIGINT");
  const { code, signal } = await within(launched.exited, BOUND_MS, "the parent's exit");
  await within(launched.closed, BOUND_MS, "the server's exit");
  // Killed by the SIGINT; or, if the server's handlers were in place in time after all, a clean stop.
  t.true(signal === "SIGINT" || code === 0, `exit ${code ?? signal}`);
  t.notRegex(launched.stderr(), /stopped by|Error|\n\s+at /, "nothing alarming, and no stack trace");
});
