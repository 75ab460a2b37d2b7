/**
 * A server started the way a host starts it (a unit's ExecStart, the Docker
 * entrypoint, an installed package's binary: launch), and the clean stop every
 * deployment relies on.
 */
import type { ExecutionContext } from "ava";
import { launch, type ServeProcess } from "../helpers/serve.js";
import { within } from "../helpers/wait.js";

const STOP_BOUND_MS = 10_000;

export { launch };
export type Launched = ServeProcess;

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
