/** Runs the built `curvehost` binary as a child process, as a user would. */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runToEnd, type RunResult } from "./run.js";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Runs one command to completion (bounded by `timeoutMs`), in `cwd`. */
export function runCli(args: string[], { cwd = process.cwd(), timeoutMs = 20_000 } = {}): Promise<RunResult> {
  return runToEnd(process.execPath, [CLI, ...args], { what: `curvehost ${args.join(" ")}`, cwd, timeoutMs });
}

/** A fresh temporary directory, removed when the test ends. */
export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = "curvehost-"): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The permission bits of a file, e.g. 0o600. */
export async function modeOf(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}
