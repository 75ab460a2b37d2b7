/**
 * Runs a Python script with Debian's interpreter, the one python3-zmq and
 * python3-nacl belong to (the python3 first on PATH may be another).
 */
import { spawn } from "node:child_process";

export const PYTHON = "/usr/bin/python3";

export interface PythonResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runPython(script: string, args: string[] = [], timeoutMs = 20_000): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ["-c", script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`python did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${PYTHON} (${error.message}); install python3-zmq and python3-nacl`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (/ModuleNotFoundError: No module named '(zmq|nacl)'/.test(stderr))
        reject(new Error("Debian's python3-zmq and python3-nacl are needed: apt-get install -y python3-zmq python3-nacl"));
      else resolve({ code, stdout, stderr });
    });
  });
}
