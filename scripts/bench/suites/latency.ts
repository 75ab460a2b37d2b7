/**
 * Latency under load: curvehost's maximum rate from a closed-loop run, then
 * curvehost and the relay each driven open loop at 10 %, 50 % and 90 % of that
 * same absolute rate. Open-loop latencies are measured from each message's due
 * time, so they include any lateness of the sender.
 */
import type { BenchContext } from "../context.js";
import { closedLoop, openLoop, WINDOW } from "../load.js";
import type { Mode } from "../processes.js";
import { cpuFields, fmt, lossNote, notes, pair, type Row } from "../report.js";
import { withRig, type RunResult } from "../rig.js";

const RECEIVERS = 16;
const SIZE = 1024;
const FRACTIONS = [0.1, 0.5, 0.9];

interface Paced extends RunResult {
  /** How late the pacing timer sent its latest message, in ms. */
  maxLateMs: number;
}

export async function latencySuite(ctx: BenchContext, emit: (row: Row) => void): Promise<void> {
  const maxSeconds = ctx.quick ? 1.5 : 3;
  const pacedSeconds = ctx.quick ? 2 : 8;
  const params = `${RECEIVERS} rx, 1 KiB`;
  let maxRate = NaN;

  const paced = async (mode: Mode): Promise<Paced[]> =>
    withRig(ctx, mode, { receivers: RECEIVERS, size: SIZE, label: "latency" }, async (rig) => {
      if (mode === "curvehost") {
        const max = await rig.measure((writer, run) => closedLoop(writer, { size: SIZE, run, until: { seconds: maxSeconds } }));
        maxRate = max.perReceiver;
        const cpu = cpuFields({ curvehost: max.cpu });
        emit({
          bench: "latency: max rate",
          params: `${params}, closed loop (${WINDOW} in flight)`,
          unit: "msg/s per receiver",
          curvehost: maxRate,
          baseline: null,
          ...cpu,
          note: notes(lossNote({ curvehost: max.losses }), "the rates below are fractions of this", cpu.note),
          losses: { curvehost: max.losses },
        });
      }
      const results: Paced[] = [];
      for (const fraction of FRACTIONS) {
        let maxLateMs = NaN;
        const result = await rig.measure(async (writer, run) => {
          const driven = await openLoop(writer, { size: SIZE, run, rate: fraction * maxRate, seconds: pacedSeconds });
          maxLateMs = driven.maxLateMs;
          return driven;
        });
        results.push({ ...result, maxLateMs });
      }
      return results;
    });

  const ours = await paced("curvehost");
  const base = await paced("baseline");
  for (const [i, fraction] of FRACTIONS.entries()) {
    const sides = { curvehost: ours[i]!, baseline: base[i]! };
    const rate = fraction * maxRate;
    const offered = `${(fraction * 100).toFixed(0)} % of max = ${fmt(rate)} msg/s, ${params}`;
    const cpu = cpuFields({ curvehost: sides.curvehost.cpu, baseline: sides.baseline.cpu });
    const losses = { curvehost: sides.curvehost.losses, baseline: sides.baseline.losses };
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
    emit({ bench: "latency under load p99", params: offered, unit: "ms", curvehost: sides.curvehost.p99, baseline: sides.baseline.p99 });
    emit({ bench: "latency under load max", params: offered, unit: "ms", curvehost: sides.curvehost.max, baseline: sides.baseline.max });
  }
}
