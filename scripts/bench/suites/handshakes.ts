/**
 * Handshakes: a burst of clients connecting at once, from child processes (so
 * that one JavaScript thread making every client's keys, proofs and sockets is
 * not what is measured). Joins per second from the first "go" to the last join;
 * the median of `repeat` bursts a side, taken in turn (repeat.ts).
 */
import type { BenchContext } from "../context.js";
import { clientMode, startServer } from "../context.js";
import { CpuMeter, THIS_PROCESS, type CpuWindow } from "../cpu.js";
import type { BurstReport } from "../burst.js";
import { listenOverflows } from "../listen-queue.js";
import { ChildProgram, type ClientsJob, type Mode } from "../processes.js";
import { cpuFields, notes, type Row } from "../report.js";
import { eachRun, interleaved, medians, spreadNote, totals } from "../repeat.js";

const PROCESSES = 2;

interface Burst {
  seconds: number;
  joined: number;
  failure: string | null;
  cpu: CpuWindow;
  /** Connection attempts the kernel dropped during the burst, its listen queue full. */
  listenOverflows: number;
}

export async function handshakesSuite(ctx: BenchContext, emit: (row: Row) => void): Promise<void> {
  const keys = ctx.burst;
  const burst = async (mode: Mode): Promise<Burst> => {
    const server = await startServer(ctx, mode, "handshakes");
    const programs: ChildProgram[] = [];
    try {
      for (let p = 0; p < PROCESSES; p++) {
        const job: ClientsJob = { mode: clientMode(ctx, mode), port: server.port, serverPublicKey: ctx.serverPublicKey, keys: keys.filter((_, i) => i % PROCESSES === p) };
        programs.push(new ChildProgram("burst.js", [JSON.stringify(job)], `burst process ${p + 1}`));
      }
      await Promise.all(programs.map((program) => program.receive("ready", 30_000)));
      const meter = new CpuMeter(server.measured, [THIS_PROCESS, ...programs.map((program) => ({ label: program.label, pid: program.pid }))]);
      const overflowsBefore = listenOverflows();
      for (const program of programs) program.send({ type: "go" });
      const reports = await Promise.all(programs.map((program) => program.receive<BurstReport>("done", 120_000)));
      const cpu = meter.stop();
      const overflows = listenOverflows() - overflowsBefore;
      return {
        seconds: (Math.max(...reports.map((r) => r.endedAt)) - Math.min(...reports.map((r) => r.startedAt))) / 1000,
        joined: reports.reduce((sum, r) => sum + r.joined, 0),
        failure: reports.find((r) => r.failure !== null)?.failure ?? null,
        cpu,
        listenOverflows: overflows,
      };
    } finally {
      await Promise.all(programs.map((program) => program.close()));
      await server.stop();
    }
  };
  const runs = await interleaved(ctx.repeat, burst);
  const rate = (b: Burst) => b.joined / b.seconds;
  const { curvehost: ours, baseline: base } = medians(runs, rate);
  const failures = (["curvehost", "baseline"] as const).flatMap((mode) =>
    runs[mode].filter((b) => b.joined < keys.length).map((b) => `${mode}: ONLY ${b.joined} OF ${keys.length} JOINED (${b.failure})`),
  );
  const cpu = cpuFields({ curvehost: ours.cpu, baseline: base.cpu });
  const overflows = totals(runs, (b) => b.listenOverflows);
  emit({
    bench: "handshakes",
    params: `burst of ${keys.length} clients from ${PROCESSES} processes`,
    unit: "joins/s",
    curvehost: rate(ours),
    baseline: rate(base),
    ...cpu,
    note: notes(
      ...failures,
      spreadNote(runs, rate),
      overflows.curvehost + overflows.baseline > 0 ? `connection attempts dropped by a full listen queue ${overflows.curvehost}/${overflows.baseline} (each retried after a second)` : "",
      "curvehost: Client connect + join (4 CURVE handshakes, each through ZAP, and the join proof)",
      "baseline: the same 4 CURVE handshakes to the relay's 4 ports, no ZAP, no join",
      cpu.note,
    ),
    losses: totals(runs, (b) => keys.length - b.joined),
    details: { clients: keys.length, seconds: { curvehost: ours.seconds, baseline: base.seconds }, joinsPerSecondEveryRun: eachRun(runs, rate), listenOverflows: overflows },
  });
}
