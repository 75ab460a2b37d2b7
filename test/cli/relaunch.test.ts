/**
 * `curvehost serve` started without the server's node flags runs itself again
 * in a child node that has them (src/cli/relaunch.ts). These tests start the
 * real binary as a host would, then look at the processes in /proc.
 */
import test, { type ExecutionContext } from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import { SERVER_NODE_FLAGS } from "../../src/cli/relaunch.js";
import { CLI, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";

interface Launched {
  parent: ChildProcess;
  server: number;
  output: () => string;
  /** Resolves once every process writing to the output has closed it: the parent and the server. */
  closed: Promise<void>;
}

/** The pids whose parent is `pid`, from /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // The command name is in parentheses and may hold spaces; the parent pid is the second field after it.
    const parentPid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (parentPid === pid) pids.push(Number(entry));
  }
  return pids;
}

async function launch(t: ExecutionContext, nodeFlags: string[] = []): Promise<Launched> {
  const cwd = await tempDir(t);
  const port = await freePortBlock(4);
  // Its own process group, so that a test can signal the group as a terminal's Ctrl-C does.
  const parent = spawn(process.execPath, [...nodeFlags, CLI, "serve", "--no-state", "--bind", "127.0.0.1", "--port", String(port)], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  t.teardown(() => {
    try {
      process.kill(-parent.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  });
  let output = "";
  const closed = Promise.all(
    [parent.stdout!, parent.stderr!].map((stream) => new Promise<void>((resolve) => stream.on("data", (chunk: Buffer) => (output += chunk.toString())).on("close", resolve))),
  ).then(() => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 15 s: ${output}`)), 15_000);
    parent.stderr!.on("data", () => output.includes("Forward these TCP ports") && (clearTimeout(timer), resolve()));
    parent.once("exit", (code) => (clearTimeout(timer), reject(new Error(`serve exited with ${code}: ${output}`))));
  });
  const children = await childrenOf(parent.pid!);
  return { parent, server: children.length === 1 ? children[0]! : NaN, output: () => output, closed };
}

/** `promise`, or a rejection naming `what` if it takes longer than 10 s. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than 10 s`)), 10_000)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const exited = (child: ChildProcess) =>
  within(new Promise<number | null>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once("exit", resolve))), "the parent's exit");

test("serve started without the node flags runs the server in one child node that has them, and SIGTERM stops it cleanly", async (t) => {
  const launched = await launch(t);
  t.false(Number.isNaN(launched.server), "exactly one child process");
  const commandLine = (await fs.readFile(`/proc/${launched.server}/cmdline`, "utf8")).split("\0");
  for (const flag of SERVER_NODE_FLAGS) t.true(commandLine.includes(flag), `${flag} in ${commandLine.join(" ")}`);
  t.true(commandLine.includes("serve"));

  launched.parent.kill("SIGTERM");
  t.is(await exited(launched.parent), 0, launched.output());
  await within(launched.closed, "the server's exit");
  t.is(launched.output().match(/"event":"stopped"/g)?.length, 1, "the server stopped cleanly, once");
});

test("serve started with the node flags runs the server in its own process", async (t) => {
  const launched = await launch(t, SERVER_NODE_FLAGS);
  t.deepEqual(await childrenOf(launched.parent.pid!), []);
  launched.parent.kill("SIGTERM");
  t.is(await exited(launched.parent), 0);
});

test("a Ctrl-C, which reaches the parent and the server alike, stops the server cleanly once", async (t) => {
  const launched = await launch(t);
  process.kill(-launched.parent.pid!, "SIGINT");
  t.is(await exited(launched.parent), 0, launched.output());
  await within(launched.closed, "the server's exit");
  t.is(launched.output().match(/"event":"stopped"/g)?.length, 1);
});

test("if the parent is killed, the server notices and stops cleanly by itself", async (t) => {
  const launched = await launch(t);
  launched.parent.kill("SIGKILL");
  await within(launched.closed, "the server's exit"); // it holds the output open until it exits
  t.regex(launched.output(), /"event":"stopped"/);
  // Gone, or a zombie until whatever adopted it reaps it.
  const state = await fs.readFile(`/proc/${launched.server}/stat`, "utf8").then((stat) => stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3), () => "gone");
  t.true(state === "gone" || state === "Z", `the server process is in state ${state}`);
});
