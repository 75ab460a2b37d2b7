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
}

/**
 * Starts `curvehost serve ARGS` and resolves once it prints its banner. The node
 * flags are given here, so `serve` does not relaunch itself and `child` is the
 * server: a SIGKILL to it is a crash (relaunch.test.ts covers the relaunch).
 */
export async function serve(t: ExecutionContext, args: string[], cwd: string, timeoutMs = 15_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, CLI, "serve", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no banner within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("Forward these TCP ports")) (clearTimeout(timer), resolve());
    });
    void exited.then(({ code }) => (clearTimeout(timer), reject(new Error(`serve exited with ${code}: ${stderr}`))));
  });
  await ready;
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resident memory of a process in bytes, from /proc. */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}
