/**
 * A server started the way a host starts it (a unit's ExecStart, the Docker
 * entrypoint, an installed package's binary), and the clean stop every
 * deployment relies on. The process leads a group of its own: the teardown
 * kills whatever is left of the group, and a test can check that nothing is.
 */
import type { ExecutionContext } from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import { within } from "../helpers/wait.js";

export const BANNER = "Forward these TCP ports";
const STOP_BOUND_MS = 10_000;

export interface Launched {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once every process writing to its output has closed it (serve's relaunched server too). */
  closed: Promise<void>;
  /** Resolves once the banner is on stderr; rejects if it is not there within `timeoutMs` or the process exits first. */
  ready: Promise<void>;
}

export function launch(
  t: ExecutionContext,
  command: string,
  args: string[],
  { cwd, env = process.env, timeoutMs = 15_000 }: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Launched {
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

/** Whether any process is left in the group `pgid`. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends SIGTERM as the host's supervisor does (`group`: to every process of
 * the group, as systemd does; otherwise to the launched process only, as
 * `docker stop` does), then asserts a clean stop: exit code 0, the server's
 * "stopped" logged once, and no process of the group left.
 */
export async function assertStopsCleanly(t: ExecutionContext, launched: Launched, { group = false } = {}): Promise<void> {
  const pid = launched.child.pid!;
  if (group) process.kill(-pid, "SIGTERM");
  else launched.child.kill("SIGTERM");
  const { code, signal } = await within(launched.exited, STOP_BOUND_MS, "the exit after SIGTERM");
  await within(launched.closed, STOP_BOUND_MS, "the server's exit after SIGTERM");
  t.is(code, 0, `exit ${code ?? signal}; stderr: ${launched.stderr()}`);
  t.is(launched.stdout().match(/"event":"stopped"/g)?.length ?? 0, 1, "the server logged one clean stop");
  t.false(groupAlive(pid), "no process of the group is left");
}
