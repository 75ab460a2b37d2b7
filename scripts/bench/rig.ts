/**
 * A server under test with its receivers (child processes) and the writer (this
 * process): what the fan-out, latency, commits and join-baseline measurements
 * run on. One measured run is one window: CPU snapshots at its start, the
 * writer driven, every receiver holding every message (or the drain deadline),
 * CPU snapshots at its end.
 */
import { CpuMeter, THIS_PROCESS, type CpuWindow } from "./cpu.js";
import { clientMode, startServer, type BenchContext } from "./context.js";
import { closedLoop, openWriter, type Driven, type Writer } from "./load.js";
import type { Mode, ServerProcess } from "./processes.js";
import { ReceiverPool } from "./receiver-pool.js";
import { percentile } from "./report.js";
import { sleep } from "./timing.js";

/** A short closed-loop run before any measured one: connections, JIT and buffers settle. */
const WARM_UP_SECONDS = 0.3;
/** How long receivers may take, after the writer's last acknowledgement, to hold every message. */
const DRAIN_MS = 20_000;

export interface RunResult {
  /** Messages the writer sent (each one published event). */
  sent: number;
  /** From the first message sent to the last one received anywhere (or acknowledged). */
  seconds: number;
  delivered: number;
  losses: number;
  perReceiver: number;
  total: number;
  p50: number;
  p99: number;
  max: number;
  cpu: CpuWindow;
  /** Server CPU µs per published event: whole process, its main thread, libzmq's I/O threads, every other thread. */
  cpuPerEvent: { all: number; main: number; zmq: number; other: number };
}

let runs = 0;

export class Rig {
  private constructor(
    private readonly server: ServerProcess,
    private readonly pool: ReceiverPool,
    private readonly writer: Writer,
  ) {}

  /**
   * Starts the server, `receivers` receivers (users 1…; curvehost's are Clients
   * unless `bareReceivers`) and the writer (user 0), and warms up with `size`-byte messages.
   */
  static async start(
    ctx: BenchContext,
    mode: Mode,
    options: { receivers: number; size: number; label: string; serveArgs?: string[]; bareReceivers?: boolean },
  ): Promise<Rig> {
    const server = await startServer(ctx, mode, options.label, options.serveArgs);
    let pool: ReceiverPool | undefined;
    let writer: Writer | undefined;
    try {
      const clients = clientMode(ctx, mode);
      pool = await ReceiverPool.start(clients, server.port, ctx.serverPublicKey, ctx.users.slice(1, options.receivers + 1), options.bareReceivers);
      writer = await openWriter(clients, server.port, ctx.serverPublicKey, ctx.users[0]!);
      await closedLoop(writer, { size: options.size, run: 0, until: { seconds: WARM_UP_SECONDS } });
      return new Rig(server, pool, writer);
    } catch (error) {
      writer?.close();
      await pool?.close();
      await server.stop();
      throw error;
    }
  }

  /** One measured window; `drive` sends the run's messages through the writer. */
  async measure(drive: (writer: Writer, run: number) => Promise<Driven>): Promise<RunResult> {
    const run = ++runs;
    await this.pool.begin(run);
    const meter = new CpuMeter(this.server.measured, [THIS_PROCESS, ...this.pool.measured]);
    const driven = await drive(this.writer, run);
    const complete = await this.pool.awaitAll(driven.sent, DRAIN_MS);
    const cpu = meter.stop();
    const delivery = await this.pool.report(complete);
    const seconds = (Math.max(driven.endedAt, delivery.lastAt) - driven.startedAt) / 1000;
    const server = cpu.server!;
    const perEvent = (cpuSeconds: number) => (cpuSeconds / driven.sent) * 1e6;
    return {
      sent: driven.sent,
      seconds,
      delivered: delivery.delivered,
      losses: driven.sent * this.pool.size - delivery.delivered,
      perReceiver: delivery.delivered / this.pool.size / seconds,
      total: delivery.delivered / seconds,
      p50: percentile(delivery.latencies, 50),
      p99: percentile(delivery.latencies, 99),
      max: percentile(delivery.latencies, 100),
      cpu,
      cpuPerEvent: { all: perEvent(server.seconds), main: perEvent(server.mainSeconds), zmq: perEvent(server.zmqSeconds), other: perEvent(server.otherSeconds) },
    };
  }

  /** A window of `seconds` in which nothing is sent: what the server costs with its users connected and idle. */
  async idle(seconds: number): Promise<CpuWindow> {
    const meter = new CpuMeter(this.server.measured, [THIS_PROCESS, ...this.pool.measured]);
    await sleep(seconds * 1000);
    return meter.stop();
  }

  /** Closes the writer and receivers, then stops the server. */
  async stop(): Promise<void> {
    this.writer.close();
    await this.pool.close();
    await this.server.stop();
  }
}

/** Starts a rig, hands it to `use`, and stops it whatever happens. */
export async function withRig<T>(ctx: BenchContext, mode: Mode, options: Parameters<typeof Rig.start>[2], use: (rig: Rig) => Promise<T>): Promise<T> {
  const rig = await Rig.start(ctx, mode, options);
  try {
    return await use(rig);
  } finally {
    await rig.stop();
  }
}

/** Both servers' rigs at once, so that their runs can be interleaved (repeat.ts); both stopped whatever happens. */
export function withRigs<T>(ctx: BenchContext, options: Parameters<typeof Rig.start>[2], use: (rigs: Record<Mode, Rig>) => Promise<T>): Promise<T> {
  return withRig(ctx, "curvehost", options, (curvehost) => withRig(ctx, "baseline", options, (baseline) => use({ curvehost, baseline })));
}
