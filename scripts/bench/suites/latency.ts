/**
 * Latency under load: curvehost's maximum rate from closed-loop runs (the
 * median), then curvehost and the relay each driven open loop at 10 %, 50 % and
 * 90 % of that same absolute rate, in turn (repeat.ts). Open-loop latencies are
 * measured from each message's due time, so they include any lateness of the sender.
 */
import type { BenchContext } from "../context.js";
import { closedLoop, openLoop, WINDOW } from "../load.js";
import { cpuFields, fmt, lossNote, notes, pair, type Row } from "../report.js";
import { eachRun, interleaved, medianRun, medians, spreadNote, totals } from "../repeat.js";
import { withRigs, type RunResult } from "../rig.js";

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

  await withRigs(ctx, { receivers: RECEIVERS, size: SIZE, label: "latency" }, async (rigs) => {
    const maxRuns: RunResult[] = [];
    for (let i = 0; i < ctx.repeat; i++) maxRuns.push(await rigs.curvehost.measure((writer, run) => closedLoop(writer, { size: SIZE, run, until: { seconds: maxSeconds } })));
    const max = medianRun(maxRuns, (run) => run.perReceiver);
    const maxRate = max.perReceiver;
    const maxCpu = cpuFields({ curvehost: max.cpu });
    const maxLosses = { curvehost: maxRuns.reduce((total, run) => total + run.losses, 0) };
    emit({
      bench: "latency: max rate",
      params: `${params}, closed loop (${WINDOW} in flight)`,
      unit: "msg/s per receiver",
      curvehost: maxRate,
      baseline: null,
      ...maxCpu,
      note: notes(lossNote(maxLosses), `median of ${maxRuns.length}; the rates below are fractions of this`, maxCpu.note),
      losses: maxLosses,
    });

    for (const fraction of FRACTIONS) {
      const rate = fraction * maxRate;
      const runs = await interleaved(ctx.repeat, async (mode): Promise<Paced> => {
        let maxLateMs = NaN;
        const result = await rigs[mode].measure(async (writer, run) => {
          const driven = await openLoop(writer, { size: SIZE, run, rate, seconds: pacedSeconds });
          maxLateMs = driven.maxLateMs;
          return driven;
        });
        return { ...result, maxLateMs };
      });
      // The median by p99, the figure the target is about; p50 and max are that same run's.
      const sides = medians(runs, (run) => run.p99);
      const offered = `${(fraction * 100).toFixed(0)} % of max = ${fmt(rate)} msg/s, ${params}`;
      const cpu = cpuFields({ curvehost: sides.curvehost.cpu, baseline: sides.baseline.cpu });
      const losses = totals(runs, (run) => run.losses);
      emit({
        bench: "latency under load p50",
        params: offered,
        unit: "ms",
        curvehost: sides.curvehost.p50,
        baseline: sides.baseline.p50,
        ...cpu,
        note: notes(`open loop ${pacedSeconds} s`, lossNote(losses), `sender at most ${pair(sides, (side) => fmt(side.maxLateMs))} ms late`, cpu.note),
        losses,
        details: { offeredRate: rate, fractionOfMax: fraction, seconds: pacedSeconds, maxSenderLatenessMs: { curvehost: sides.curvehost.maxLateMs, baseline: sides.baseline.maxLateMs } },
      });
      emit({ bench: "latency under load p99", params: offered, unit: "ms", curvehost: sides.curvehost.p99, baseline: sides.baseline.p99, note: spreadNote(runs, (run) => run.p99), details: { p99EveryRun: eachRun(runs, (run) => run.p99) } });
      emit({ bench: "latency under load max", params: offered, unit: "ms", curvehost: sides.curvehost.max, baseline: sides.baseline.max });
    }
  });
}
