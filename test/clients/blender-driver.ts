/**
 * Headless Blenders for the add-on's tests and the bench: each runs
 * clients/blender/tools/drive.py and takes Python to run, or an expression to
 * tick until it is true, answering one JSON line per request. Every wait is
 * bounded; `kill` (SIGKILL) ends the process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { within } from "../helpers/wait.js";

export const BLENDER = "blender";
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DRIVER = `${ROOT}clients/blender/tools/drive.py`;
/** The add-on's folder and the Python client package's, for Blender's sys.path. */
const PATHS = [`${ROOT}clients/blender`, `${ROOT}clients/python`];

/** Throws the sentence that says how to get Blender when it is not installed. */
export function requireBlender(): void {
  const probe = spawnSync(BLENDER, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0)
    throw new Error(`Blender is needed for the add-on's tests and is not installed (or does not start): apt-get install -y blender`);
}

interface Answer {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  trace?: string;
  ready?: boolean;
}

export class Blender {
  readonly child: ChildProcess;
  private next = 1;
  private waiting = new Map<number, (answer: Answer) => void>();
  private ready: Promise<void>;
  private exited: Promise<number | null>;
  stderr = "";

  /** Starts a headless Blender; `label` names it in errors. */
  constructor(readonly label: string) {
    // Blender's embedded Python takes its home from the first python3 on PATH: a pyenv or
    // virtualenv one ahead of Debian's would hide python3-zmq and python3-nacl.
    const env = { ...process.env, PATH: `/usr/bin:${process.env.PATH ?? ""}` };
    this.child = spawn(BLENDER, ["-b", "--factory-startup", "--python", DRIVER, "--", ...PATHS], { stdio: ["pipe", "pipe", "pipe"], env });
    let buffered = "";
    let onReady: () => void;
    this.ready = new Promise((resolve) => (onReady = resolve));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    this.child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let end: number;
      while ((end = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (!line.startsWith("@@ ")) continue;
        const answer = JSON.parse(line.slice(3)) as Answer;
        if (answer.ready) onReady();
        else this.waiting.get(answer.id!)?.(answer);
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    this.exited.then(() => {
      for (const resolve of this.waiting.values()) resolve({ ok: false, error: `${this.label}'s Blender exited; stderr: ${this.stderr.slice(-3000)}` });
    });
  }

  private async request(body: Record<string, unknown>, ms: number, what: string): Promise<any> {
    await within(Promise.race([this.ready, this.exited.then(() => Promise.reject(new Error(`${this.label}'s Blender exited at start: ${this.stderr.slice(-3000)}`)))]), 30_000, `${this.label}'s Blender starting`);
    const id = this.next++;
    const answered = new Promise<Answer>((resolve) => this.waiting.set(id, resolve));
    this.child.stdin!.write(JSON.stringify({ id, ...body }) + "\n");
    try {
      const answer = await within(answered, ms, `${this.label}: ${what}`);
      if (!answer.ok) throw new Error(`${this.label}: ${answer.error}\n${answer.trace ?? ""}\nstderr: ${this.stderr.slice(-2000)}`);
      return answer.value;
    } finally {
      this.waiting.delete(id);
    }
  }

  /** Runs Python in the Blender; its `result` comes back. */
  run(code: string, ms = 30_000): Promise<any> {
    return this.request({ run: code }, ms, `running ${code.slice(0, 60)}`);
  }

  /** Ticks the session until the Python expression is true (at most `seconds`); its value. */
  until(expression: string, seconds = 15): Promise<any> {
    return this.request({ until: expression, timeout: seconds }, seconds * 1000 + 10_000, `waiting for ${expression.slice(0, 80)}`);
  }

  /** For the bench's CPU accounting. */
  get measured(): { label: string; pid: number } {
    return { label: `${this.label}'s Blender`, pid: this.child.pid! };
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
