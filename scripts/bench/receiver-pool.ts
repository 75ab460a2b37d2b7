/** The bench's side of the receiver processes (receiver.ts): start them, run by run, collect. */
import os from "node:os";
import { SERVER_NODE_FLAGS } from "../../src/cli/relaunch.js";
import type { KeyPair } from "../../src/keys/index.js";
import type { Measured } from "./cpu.js";
import { ChildProgram, type ClientsJob, type Mode } from "./processes.js";
import type { ReceiverReport, ToReceiver } from "./receiver.js";

export interface Delivery {
  /** Messages of the run delivered, all receivers together. */
  delivered: number;
  /** Every receiver got every message before the deadline. */
  complete: boolean;
  latencies: Float64Array;
  lastAt: number;
}

export class ReceiverPool {
  private constructor(
    private readonly programs: ChildProgram[],
    readonly size: number,
  ) {}

  /** Receivers for `keys`, spread over as many processes as there are cores, each joined and ready. */
  static async start(mode: Mode, port: number, serverPublicKey: string, keys: KeyPair[], bare = false): Promise<ReceiverPool> {
    const processes = Math.min(keys.length, Math.max(2, os.cpus().length));
    const groups = Array.from({ length: processes }, (_, p) => keys.filter((_, i) => i % processes === p));
    // A receiver process takes in at least as many bytes as the server, so it runs under the server's
    // floor on collections (src/cli/relaunch.ts explains it): without it, at 64 KiB, collections in the
    // Clients' processes took the cores the server needed. Both sides alike, so only the server differs.
    const programs = groups.map(
      (group, p) =>
        new ChildProgram("receiver.js", [JSON.stringify({ mode, bare, port, serverPublicKey, keys: group } satisfies ClientsJob)], `receiver process ${p + 1}`, SERVER_NODE_FLAGS),
    );
    const pool = new ReceiverPool(programs, keys.length);
    try {
      await Promise.all(programs.map((program) => program.receive("ready", 90_000)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get measured(): Measured[] {
    return this.programs.map((program) => ({ label: program.label, pid: program.pid }));
  }

  /** From now on the receivers count messages of `run` only. */
  async begin(run: number): Promise<void> {
    for (const program of this.programs) program.discard("done"); // late from a run that timed out
    this.tell({ type: "begin", run });
    await Promise.all(this.programs.map((program) => program.receive("begun", 10_000)));
  }

  /**
   * Waits until every receiver holds `count` messages of the run, or `withinMs`
   * has passed (then what did arrive is counted: the rest are losses).
   */
  async awaitAll(count: number, withinMs: number): Promise<boolean> {
    this.tell({ type: "expect", count });
    try {
      await Promise.all(this.programs.map((program) => program.receive("done", withinMs)));
      return true;
    } catch (error) {
      if (this.programs.some((program) => !program.alive)) throw error;
      return false;
    }
  }

  /** What the receivers got in this run. */
  async report(complete: boolean): Promise<Delivery> {
    this.tell({ type: "report" });
    const parts = await Promise.all(this.programs.map((program) => program.receive<ReceiverReport>("report", 30_000)));
    const latencies = new Float64Array(parts.reduce((sum, part) => sum + part.latencies.length, 0));
    let offset = 0;
    for (const part of parts) {
      latencies.set(part.latencies, offset);
      offset += part.latencies.length;
    }
    return {
      delivered: parts.reduce((sum, part) => sum + part.received.reduce((a, b) => a + b, 0), 0),
      complete,
      latencies: latencies.sort(),
      lastAt: Math.max(...parts.map((part) => part.lastAt)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.programs.map((program) => program.close()));
  }

  private tell(message: ToReceiver): void {
    for (const program of this.programs) program.send(message);
  }
}
