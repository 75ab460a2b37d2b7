/**
 * The node flags the server runs under, and the relaunch that applies them.
 *
 * V8 counts the frames zeromq.js receives against the old generation's budget,
 * which is small for curvehost's small heap, so big commits set off a full GC
 * every few tens of ms; a floor under the budget makes them rare and reserves
 * nothing (BENCHMARKS.md, Findings: garbage collection). V8 reads it only when
 * node starts, so `curvehost serve` started without it runs itself again with
 * it (main.ts).
 */
import { spawn } from "node:child_process";
import os from "node:os";

export const SERVER_NODE_FLAGS = ["--initial-old-space-size=128"];

/** Whether this process was started with the server's flags (or its own choice of the same settings). */
export function hasServerNodeFlags(execArgv: readonly string[] = process.execArgv): boolean {
  return SERVER_NODE_FLAGS.every((flag) => execArgv.some((arg) => arg.split("=")[0] === flag.split("=")[0]));
}

/**
 * Runs this same command again in a child node with SERVER_NODE_FLAGS, and
 * resolves with the exit code to leave with. Signals sent to this process go
 * on to the child; if this process dies anyway, the child sees its IPC channel
 * close and stops by itself (commands/serve.ts).
 */
export function relaunchWithServerNodeFlags(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...SERVER_NODE_FLAGS, ...process.argv.slice(1)], {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) process.on(signal, forward);
  return new Promise((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`curvehost: cannot start the server process: ${error.message}\n`);
      resolve(1);
    });
    child.once("exit", (code, signal) => {
      for (const name of signals) process.off(name, forward);
      if (signal && signals.includes(signal)) {
        // A stop request that came before the server's handlers were in place, such as a Ctrl-C during
        // startup. It reaches both processes, and the child's exit may be seen before this process's own
        // handler runs, so the signal itself is the test. End as one node process would: by it, silently.
        process.kill(process.pid, signal);
        resolve(128 + (os.constants.signals[signal] ?? 0));
        return;
      }
      if (signal) process.stderr.write(`curvehost: the server process was stopped by ${signal}.\n`);
      resolve(code ?? 1);
    });
  });
}
