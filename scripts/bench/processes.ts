/**
 * Child processes of the bench: the server under test (curvehost or the relay)
 * and the load-generating programs (receivers, handshake bursts). Every child is
 * killed when the bench exits, whether it finished, threw or was interrupted.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER_NODE_FLAGS } from "../../src/cli/relaunch.js";
import { DEFAULTS } from "../../src/server/config.js";
import { freePortBlock } from "../../test/helpers/ports.js";
import type { Measured } from "./cpu.js";
import { withTimeout } from "./timing.js";

export type Mode = "curvehost" | "baseline";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "../../src/cli/main.js");

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal` (if any), then SIGKILL if the child is still alive after `graceMs`. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals | null, graceMs: number): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (signal) child.kill(signal);
  try {
    await withTimeout(gone, graceMs, `pid ${child.pid} exiting on ${signal}`);
  } catch {
    child.kill("SIGKILL");
    await gone;
  }
}

export interface ServerProcess {
  /** The base port P. */
  port: number;
  measured: Measured;
  stop(): Promise<void>;
}

export interface CurvehostOptions {
  keysDir: string;
  /** Extra `serve` arguments; `--no-state` when none are given. */
  serveArgs?: string[];
  /** Write a V8 CPU profile of this server into the directory, named after `label`. */
  profileDir?: string | undefined;
  label: string;
  /** The CLI to run: this build's unless another is given (--baseline-build). */
  cli?: string | undefined;
}

let profiles = 0;
/** More node flags for the curvehost servers under test, such as --perf-basic-prof for `perf record` (CURVEHOST_BENCH_NODE_FLAGS). */
const EXTRA_SERVER_FLAGS = (process.env["CURVEHOST_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "");

export async function startCurvehost(options: CurvehostOptions): Promise<ServerProcess> {
  const port = await freePortBlock(4);
  const profile = options.profileDir
    ? ["--cpu-prof", "--cpu-prof-dir", options.profileDir, "--cpu-prof-name", `${String(++profiles).padStart(3, "0")}-${options.label.replace(/[^\w.-]+/g, "_")}.cpuprofile`]
    : [];
  const serve = ["serve", "--keys", options.keysDir, "--open", "--bind", "127.0.0.1", "--port", String(port), "--max-users", "512", "--timeout", "30000"];
  // With the node flags `serve` would relaunch itself with, so that this child is the server measured.
  const child = track(spawn(process.execPath, [...SERVER_NODE_FLAGS, ...EXTRA_SERVER_FLAGS, ...profile, options.cli ?? CLI, ...serve, ...(options.serveArgs ?? ["--no-state"])], { stdio: ["ignore", "ignore", "pipe"] }));
  let stderr = "";
  let running = false;
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  child.once("exit", (code, signal) => {
    if (running) console.error(`\nbench: the curvehost server (pid ${child.pid}, ${options.label}) exited by itself (${signal ?? code}):\n${stderr}`);
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const ready = () => {
          if (!stderr.includes("Forward these TCP ports")) return;
          child.stderr!.off("data", ready);
          resolve();
        };
        child.stderr!.on("data", ready);
        child.once("exit", (code, signal) => reject(new Error(`bench: curvehost exited (${signal ?? code}) while starting:\n${stderr}`)));
      }),
      15_000,
      "starting the curvehost server",
    );
  } catch (error) {
    await terminate(child, "SIGKILL", 5000);
    throw error;
  }
  running = true;
  return {
    port,
    measured: { label: "curvehost server", pid: child.pid! },
    stop: () => ((running = false), terminate(child, "SIGTERM", 5000)), // SIGTERM: a clean exit writes the CPU profile
  };
}

/** The baseline relay (relay.ts) on four ports with the server's secret key, curvehost's default I/O threads and its node flags. */
export async function startRelay(serverSecretKey: string): Promise<ServerProcess> {
  const port = await freePortBlock(4);
  const relay = new ChildProgram("relay.js", [String(port), serverSecretKey, String(DEFAULTS.ioThreads)], "the relay", SERVER_NODE_FLAGS);
  const stop = () => terminate(relay.child, "SIGKILL", 5000);
  try {
    await relay.receive("ready", 15_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, measured: { label: "relay server", pid: relay.pid }, stop };
}

/** Resident and peak resident memory of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

export interface Message {
  type: string;
}

/** What a child process of clients (receiver.js, burst.js) is given as its argument, in JSON. */
export interface ClientsJob {
  mode: Mode;
  /** curvehost receivers without the client library (bare-member.ts). */
  bare?: boolean;
  port: number;
  serverPublicKey: string;
  keys: Array<{ publicKey: string; secretKey: string }>;
}

/**
 * One of the bench's own programs (receiver.js, burst.js, relay.js) in a child
 * process, spoken to with typed messages over the IPC channel.
 */
export class ChildProgram {
  readonly child: ChildProcess;
  private readonly inbox: Message[] = [];
  private readonly waiting: Array<{ type: string; resolve: (message: Message) => void; reject: (error: Error) => void }> = [];

  constructor(
    script: string,
    args: string[],
    readonly label: string,
    nodeFlags: readonly string[] = [],
  ) {
    // "advanced" serialization carries typed arrays (latencies) without JSON.
    this.child = track(fork(path.join(here, script), args, { execArgv: [...nodeFlags], stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced" }));
    this.child.on("message", (message: Message) => {
      const index = this.waiting.findIndex((waiter) => waiter.type === message.type);
      if (index < 0) this.inbox.push(message);
      else this.waiting.splice(index, 1)[0]!.resolve(message);
    });
    this.child.once("exit", (code, signal) => {
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error(`bench: ${label} exited (${signal ?? code}) while the bench waited for "${waiter.type}"`));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !exited(this.child);
  }

  send(message: Message): void {
    if (!exited(this.child)) this.child.send(message);
  }

  /** The next message of this type (one that arrived earlier counts), within `timeoutMs`. */
  receive<T extends Message>(type: string, timeoutMs: number): Promise<T> {
    const index = this.inbox.findIndex((message) => message.type === type);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0] as T);
    if (exited(this.child)) return Promise.reject(new Error(`bench: ${this.label} has exited; no "${type}" will come`));
    const received = new Promise<T>((resolve, reject) => this.waiting.push({ type, resolve: resolve as (message: Message) => void, reject }));
    return withTimeout(received, timeoutMs, `waiting for "${type}" from ${this.label}`);
  }

  /** Forgets messages of this type that arrived and were not asked for. */
  discard(type: string): void {
    for (let i = this.inbox.length - 1; i >= 0; i--) if (this.inbox[i]!.type === type) this.inbox.splice(i, 1);
  }

  /** Asks the program to close its sockets and exit; kills it if it has not within 5 s. */
  async close(): Promise<void> {
    this.send({ type: "close" });
    await terminate(this.child, null, 5000);
  }
}
