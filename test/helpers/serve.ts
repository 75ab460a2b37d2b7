/** `curvehost serve` as a child process, for tests of the real binary. */
import { spawn, type ChildProcess } from "node:child_process";
import type { ExecutionContext } from "ava";
import { SERVER_NODE_FLAGS } from "../../src/cli/relaunch.js";
import { CLI } from "./cli.js";

export interface ServeProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the process exits, with its code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once every process writing to its output has closed it: the child, and the server if the child relaunched. */
  closed: Promise<void>;
}

export interface ServeOptions {
  /**
   * Node flags for the child. By default the server's own, so that `serve` does
   * not relaunch itself and `child` is the server: a SIGKILL to it is a crash
   * (relaunch.test.ts passes none, to test the relaunch).
   */
  nodeFlags?: readonly string[];
  timeoutMs?: number;
}

/** What `serve` prints on stderr once it listens. */
export const BANNER = "Forward these TCP ports";

/**
 * Starts a program that serves (the CLI, a unit's ExecStart, the Docker
 * entrypoint, an installed package's binary); `ready` resolves once it prints
 * the banner, and rejects if it does not within `timeoutMs` or exits first. The
 * process leads a group of its own, so a test can signal the group as a
 * terminal's Ctrl-C or a supervisor does, and the teardown kills whatever is left.
 */
export function launch(
  t: ExecutionContext,
  command: string,
  args: string[],
  { cwd, env = process.env, timeoutMs = 15_000 }: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): ServeProcess & { ready: Promise<void> } {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group is gone already
    }
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const closed = Promise.all([child.stdout!, child.stderr!].map((stream) => new Promise((resolve) => stream.once("close", resolve)))).then(() => {});
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} printed no banner within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stderr!.on("data", () => {
      if (stderr.includes(BANNER)) (clearTimeout(timer), resolve());
    });
    child.once("error", (error) => (clearTimeout(timer), reject(new Error(`cannot run ${command}: ${error.message}`))));
    void exited.then(({ code, signal }) => (clearTimeout(timer), reject(new Error(`${command} exited (${code ?? signal}) before its banner: ${stderr}`))));
  });
  ready.catch(() => {}); // a test that never awaits it must not fail on an unhandled rejection
  return { child, stdout: () => stdout, stderr: () => stderr, exited, closed, ready };
}

/** Starts `curvehost serve ARGS` (see launch). */
export function startServe(
  t: ExecutionContext,
  args: string[],
  cwd: string,
  { nodeFlags = SERVER_NODE_FLAGS, timeoutMs = 15_000 }: ServeOptions = {},
): ServeProcess & { ready: Promise<void> } {
  return launch(t, process.execPath, [...nodeFlags, CLI, "serve", ...args], { cwd, timeoutMs });
}

/** startServe, resolved once the banner is printed. */
export async function serve(t: ExecutionContext, args: string[], cwd: string, options: ServeOptions = {}): Promise<ServeProcess> {
  const { ready, ...launched } = startServe(t, args, cwd, options);
  await ready;
  return launched;
}

/** Resident memory of a process in bytes, from /proc. */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}
