/**
 * CPU accounting from /proc over one measured window: the server's CPU time
 * (split into its main thread, libzmq's I/O threads and every other thread),
 * each load generator's, and the machine's idle share. This is how the bench
 * shows where a figure's limit was: in the server, or in the processes that
 * make the load.
 *
 * Each thread's time is read from /proc/PID/task/TID/schedstat, in nanoseconds:
 * /proc's stat counts clock ticks of 10 ms, which at a few hundred events a
 * second (the paced suite) left a 5 s window with some 10 ticks to divide.
 * Where schedstat cannot be read, the ticks are used.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import { now } from "./timing.js";

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** A load generator that used this share of one core or more was a bottleneck itself. */
export const SATURATED_SHARE = 0.9;
/** Below this idle share of the whole machine, every process was competing for CPU. */
export const BUSY_MACHINE_IDLE = 0.05;

/** CPU seconds of one process's threads, by thread id, since threads are counted one by one. */
interface ProcessTimes {
  main: number;
  /** libzmq's I/O threads. */
  zmq: Map<string, number>;
  /** Every other thread: libuv's pool (file system work), V8's helpers (collector, compiler), libzmq's reaper. */
  other: Map<string, number>;
}

/** utime + stime of a /proc stat line, in seconds. The command name may hold spaces: fields start after its ")". */
function statSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** A thread's time on a CPU in seconds, from its schedstat (nanoseconds); its stat's ticks where that cannot be read. */
function threadSeconds(dir: string, stat: string): number {
  try {
    return Number(readFileSync(`${dir}/schedstat`, "utf8").split(" ")[0]) / 1e9;
  } catch {
    return statSeconds(stat);
  }
}

function processTimes(pid: number): ProcessTimes | null {
  try {
    let main = 0;
    const zmq = new Map<string, number>();
    const other = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${tid}`;
      let stat: string;
      try {
        stat = readFileSync(`${dir}/stat`, "utf8");
      } catch {
        continue; // the thread ended meanwhile
      }
      // The main thread's id is the process id; libzmq names its I/O threads "ZMQbg/IO/n".
      if (tid === String(pid)) main = threadSeconds(dir, stat);
      else if (stat.includes("(ZMQbg/IO/")) zmq.set(tid, threadSeconds(dir, stat));
      else other.set(tid, threadSeconds(dir, stat));
    }
    return { main, zmq, other };
  } catch {
    return null; // the process is gone
  }
}

/** Seconds the threads in `after` ran since `before` (a thread that started meanwhile counts from 0). */
function grown(before: Map<string, number>, after: Map<string, number>): number {
  let seconds = 0;
  for (const [tid, value] of after) seconds += value - (before.get(tid) ?? 0);
  return seconds;
}

/** Ticks of all cores together, from the first line of /proc/stat: idle, spent in processes, and in all. */
function machineTicks(): { idle: number; processes: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number];
  return { idle: idle + iowait, processes: user + nice + system, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

export interface ProcessCpu {
  label: string;
  pid: number;
  /** CPU seconds in the window, all threads. */
  seconds: number;
  /** seconds ÷ wall seconds: 1 is one core fully busy. */
  share: number;
  /** CPU seconds of the main thread: JavaScript, and the libzmq calls it makes (a send queues a message on each peer's pipe). */
  mainSeconds: number;
  /** CPU seconds of libzmq's I/O threads (CURVE encryption, TCP, PUB fan-out). */
  zmqSeconds: number;
  /** CPU seconds of every other thread: libuv's pool (the journal's writes and syncs), V8's helpers, libzmq's reaper. */
  otherSeconds: number;
}

export interface CpuWindow {
  wallSeconds: number;
  cores: number;
  server: ProcessCpu | null;
  loadGenerators: ProcessCpu[];
  /** Share of all cores' time that was idle. */
  machineIdle: number;
  /** Cores used by processes that are neither the server nor the load generators (anything else on the machine). */
  others: number;
  /** Some single load-generator process used ≥ SATURATED_SHARE of a core. */
  saturated: boolean;
  /** The machine had < BUSY_MACHINE_IDLE idle: everything competed for CPU. */
  busyMachine: boolean;
}

export interface Measured {
  label: string;
  pid: number;
}

/** Starts a window: CPU snapshots of the server and the load generators now, differences at stop(). */
export class CpuMeter {
  private readonly startedAt = now();
  private readonly machine = machineTicks();
  private readonly before = new Map<number, ProcessTimes | null>();

  constructor(
    private readonly server: Measured | null,
    private readonly loadGenerators: Measured[],
  ) {
    for (const { pid } of [...(server ? [server] : []), ...loadGenerators]) this.before.set(pid, processTimes(pid));
  }

  stop(): CpuWindow {
    const wallSeconds = (now() - this.startedAt) / 1000;
    const machine = machineTicks();
    const used = ({ label, pid }: Measured): ProcessCpu => {
      const before = this.before.get(pid);
      const after = processTimes(pid);
      if (!before || !after) return { label, pid, seconds: NaN, share: NaN, mainSeconds: NaN, zmqSeconds: NaN, otherSeconds: NaN };
      const mainSeconds = after.main - before.main;
      const zmqSeconds = grown(before.zmq, after.zmq);
      const otherSeconds = grown(before.other, after.other);
      const seconds = mainSeconds + zmqSeconds + otherSeconds;
      return { label, pid, seconds, share: seconds / wallSeconds, mainSeconds, zmqSeconds, otherSeconds };
    };
    const loadGenerators = this.loadGenerators.map(used);
    const totalTicks = machine.total - this.machine.total;
    const machineIdle = (machine.idle - this.machine.idle) / totalTicks;
    const processShare = (machine.processes - this.machine.processes) / totalTicks;
    const server = this.server ? used(this.server) : null;
    const cores = os.cpus().length;
    const measured = (server?.share ?? 0) + loadGenerators.reduce((sum, load) => sum + load.share, 0);
    return {
      wallSeconds,
      cores,
      server,
      loadGenerators,
      machineIdle,
      others: Math.max(0, processShare * cores - measured),
      saturated: loadGenerators.some((load) => load.share >= SATURATED_SHARE),
      busyMachine: machineIdle < BUSY_MACHINE_IDLE,
    };
  }
}

/** The bench's own process: the writer (or the joiner) runs in it. */
export const THIS_PROCESS: Measured = { label: "bench process", pid: process.pid };
