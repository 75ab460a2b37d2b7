/**
 * Runs a Python script with Debian's interpreter, the one python3-zmq and
 * python3-nacl belong to (the python3 first on PATH may be another).
 */
import { runToEnd, type RunResult } from "./run.js";

export const PYTHON = "/usr/bin/python3";

export async function runPython(script: string, args: string[] = [], timeoutMs = 20_000): Promise<RunResult> {
  const result = await runToEnd(PYTHON, ["-c", script, ...args], { what: `${PYTHON} (needs python3-zmq and python3-nacl)`, timeoutMs });
  if (/ModuleNotFoundError: No module named '(zmq|nacl)'/.test(result.stderr))
    throw new Error("Debian's python3-zmq and python3-nacl are needed: apt-get install -y python3-zmq python3-nacl");
  return result;
}
