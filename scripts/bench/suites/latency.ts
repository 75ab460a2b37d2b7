/**
 * Latency under load: curvehost's maximum rate from closed-loop runs (the
 * median), then curvehost and the relay each driven open loop at 10 %, 50 % and
 * 90 % of that same absolute rate, in turn (repeat.ts), and 50 % again with
 * curvehost's receivers bare. Open-loop latencies are measured from each
 * message's due time, so they include any lateness of the sender.
 */
import type { BenchContext } from "../context.js";
import { closedLoop, openLoop, WINDOW } from "../load.js";
import { cpuFields, fmt, lossNote, notes, pair, type Row } from "../report.js";
import { eachRun, interleaved, medianRun, medians, spreadNote, totals } from "../repeat.js";
import type { Mode } from "../processes.js";
import { withRigs, type Rig, type RunResult } from "../rig.js";

const RECEIVERS = 16;
const SIZE = 1024;
const FRACTIONS = [0.1, 0.5, 0.9];

interface Paced extends RunResult {
  /** How late the pacing timer sent its latest message, in ms. */
  maxLateMs: number;
}

export async function latencySuite(ctx: BenchContext, emit: (row: Row) => void): Promise<void> {
  const maxSeconds = ctx.quick ? 1.5 : 3;
  const pacedSeconds = ctx.quick ? 2 : 5;
  const params = `${RECEIVERS} rx, 1 KiB`;
  const maxRate = await withRigs(ctx, { receivers: RECEIVERS, size: SIZE, label: "latency" }, async (rigs) => {
    const maxRuns: RunResult[] = [];
    for (let i = 0; i < ctx.repeat; i++) maxRuns.push(await rigs.curvehost.measure((writer, run) => closedLoop(writer, { size: SIZE, run, until: { seconds: maxSeconds } })));
    const max = medianRun(maxRuns, (run) => run.perReceiver);
    const maxCpu = cpuFields({ curvehost: max.cpu });
    const maxLosses = { curvehost: maxRuns.reduce((total, run) => total + run.losses, 0) };
    emit({
      bench: "latency: max rate",
      params: `${params}, closed loop (${WINDOW} in flight)`,
      unit: "msg/s per receiver",
      curvehost: max.perReceiver,
      baseline: null,
      ...maxCpu,
      note: notes(lossNote(maxLosses), `median of ${maxRuns.length}; the rates below are fractions of this`, maxCpu.note),
      losses: maxLosses,
    });
    for (const fraction of FRACTIONS) await openLoopRows(ctx, rigs, emit, { bench: "latency under load", fraction, maxRate: max.perReceiver, params, seconds: pacedSeconds });
    return max.perReceiver;
  });
  // 50 % again, at the same offered rate, with curvehost's receivers cut down to what the
  // relay's do (bare-member.ts): what is left of the gap is the server, the wire and the writer.
  await withRigs(ctx, { receivers: RECEIVERS, size: SIZE, label: "latency-bare", bareReceivers: true }, (rigs) =>
    openLoopRows(ctx, rigs, emit, { bench: "latency under load, bare receivers", fraction: BARE_FRACTION, maxRate, params, seconds: pacedSeconds }),
  );
}

/** The fraction of the maximum rate the bare-receiver rows are measured at: the one the p99 target is set at. */
const BARE_FRACTION = 0.5;

/** Both sides driven open loop at `fraction` of curvehost's maximum rate, in turn; emits p50 (with CPU and the sender's lateness), p99 and max. */
async function openLoopRows(
  ctx: BenchContext,
  rigs: Record<Mode, Rig>,
  emit: (row: Row) => void,
  load: { bench: string; fraction: number; maxRate: number; params: string; seconds: number },
): Promise<void> {
  const rate = load.fraction * load.maxRate;
  const runs = await interleaved(ctx.repeat, async (mode): Promise<Paced> => {
    let maxLateMs = NaN;
    const result = await rigs[mode].measure(async (writer, run) => {
      const driven = await openLoop(writer, { size: SIZE, run, rate, seconds: load.seconds });
      maxLateMs = driven.maxLateMs;
      return driven;
    });
    return { ...result, maxLateMs };
  });
  // The median by p99, the figure the target is about; p50 and max are that same run's.
  const sides = medians(runs, (run) => run.p99);
  const offered = `${(load.fraction * 100).toFixed(0)} % of max = ${fmt(rate)} msg/s, ${load.params}`;
  const cpu = cpuFields({ curvehost: sides.curvehost.cpu, baseline: sides.baseline.cpu });
  const losses = totals(runs, (run) => run.losses);
  emit({
    bench: `${load.bench} p50`,
    params: offered,
    unit: "ms",
    curvehost: sides.curvehost.p50,
    baseline: sides.baseline.p50,
    ...cpu,
    note: notes(`open loop ${load.seconds} s`, lossNote(losses), `sender at most ${pair(sides, (side) => fmt(side.maxLateMs))} ms late`, cpu.note),
    losses,
    details: { offeredRate: rate, fractionOfMax: load.fraction, seconds: load.seconds, maxSenderLatenessMs: { curvehost: sides.curvehost.maxLateMs, baseline: sides.baseline.maxLateMs } },
  });
  emit({ bench: `${load.bench} p99`, params: offered, unit: "ms", curvehost: sides.curvehost.p99, baseline: sides.baseline.p99, note: spreadNote(runs, (run) => run.p99), details: { p99EveryRun: eachRun(runs, (run) => run.p99) } });
  emit({ bench: `${load.bench} max`, params: offered, unit: "ms", curvehost: sides.curvehost.max, baseline: sides.baseline.max });
}
