/**
 * Fan-out: one writer, N receivers, closed loop (WINDOW in flight) for a fixed
 * time; delivered updates per receiver and in total, latency, losses, and the
 * server's CPU per published event, whose flatness in N is the claim that
 * libzmq's PUB does the fan-out rather than curvehost's JavaScript.
 */
import type { BenchContext } from "../context.js";
import { closedLoop, WINDOW } from "../load.js";
import { cpuFields, cpuSplitNote, fmt, lossNote, notes, pair, type Row } from "../report.js";
import { eachRun, interleaved, medians, spreadNote, totals } from "../repeat.js";
import { withRigs, type RunResult } from "../rig.js";

const KiB = 1024;

interface BothSides {
  curvehost: RunResult;
  baseline: RunResult;
}

export async function fanoutSuite(ctx: BenchContext, emit: (row: Row) => void): Promise<void> {
  const receiverCounts = ctx.quick ? [1, 8] : [1, 8, 32, 64];
  const sizes: Array<[string, number]> = ctx.quick ? [["1 KiB", KiB], ["64 KiB", 64 * KiB]] : [["100 B", 100], ["1 KiB", KiB], ["64 KiB", 64 * KiB]];
  const seconds = ctx.quick ? 1 : 2.5;

  for (const [label, size] of sizes) {
    const byCount = new Map<number, BothSides>();
    for (const n of receiverCounts) {
      const params = `${n} rx, ${label}`;
      const results = await throughputRow(ctx, emit, { bench: "fan-out", receivers: n, size, label, seconds, bare: false });
      const { curvehost: ours, baseline: base } = results;
      byCount.set(n, results);
      emit({ bench: "fan-out total", params, unit: "deliveries/s", curvehost: ours.total, baseline: base.total });
      emit({ bench: "fan-out latency p50", params, unit: "ms", curvehost: ours.p50, baseline: base.p50, note: `closed loop, ${WINDOW} in flight: includes queueing` });
      emit({ bench: "fan-out latency p99", params, unit: "ms", curvehost: ours.p99, baseline: base.p99 });
      emit({ bench: "fan-out latency max", params, unit: "ms", curvehost: ours.max, baseline: base.max });
      emit({
        bench: "server CPU per event",
        params,
        unit: "µs",
        curvehost: ours.cpuPerEvent.all,
        baseline: base.cpuPerEvent.all,
        note: cpuSplitNote(results, (r, part) => r.cpuPerEvent[part], "µs"),
        details: { cpuPerEvent: { curvehost: ours.cpuPerEvent, baseline: base.cpuPerEvent } },
      });
    }
    emit(growthRow(label, byCount, receiverCounts));
  }

  // The same rate with curvehost's receivers cut down to what the relay's do (bare-member.ts):
  // what is left of the gap is the server and the wire format, not the client library.
  const bareSizes = ctx.quick ? sizes.slice(0, 1) : sizes.filter(([, size]) => size >= KiB);
  for (const [label, size] of bareSizes) await throughputRow(ctx, emit, { bench: "fan-out, bare receivers", receivers: BARE_RECEIVERS, size, label, seconds, bare: true });
}

/** Receivers in the bare-receiver rows: the count the 1 KiB target is set at. */
const BARE_RECEIVERS = 8;

/** Measures one fan-out case on both sides, interleaved, and emits its throughput row; returns each side's median run. */
async function throughputRow(
  ctx: BenchContext,
  emit: (row: Row) => void,
  fanout: { bench: string; receivers: number; size: number; label: string; seconds: number; bare: boolean },
): Promise<BothSides> {
  const { receivers, size, seconds } = fanout;
  const rig = { receivers, size, label: `fanout-${receivers}rx-${size}B${fanout.bare ? "-bare" : ""}`, bareReceivers: fanout.bare };
  const runs = await withRigs(ctx, rig, (rigs) =>
    interleaved(ctx.repeat, (mode) => rigs[mode].measure((writer, run) => closedLoop(writer, { size, run, until: { seconds } }))),
  );
  const results = medians(runs, (run) => run.perReceiver);
  const { curvehost: ours, baseline: base } = results;
  const cpu = cpuFields({ curvehost: ours.cpu, baseline: base.cpu });
  const losses = totals(runs, (run) => run.losses);
  const details = { messages: { curvehost: ours.sent, baseline: base.sent }, seconds: { curvehost: ours.seconds, baseline: base.seconds }, window: WINDOW, perReceiverEveryRun: eachRun(runs, (run) => run.perReceiver) };
  const spread = spreadNote(runs, (run) => run.perReceiver);
  emit({
    bench: fanout.bench,
    params: `${receivers} rx, ${fanout.label}`,
    unit: "msg/s per receiver",
    curvehost: ours.perReceiver,
    baseline: base.perReceiver,
    ...cpu,
    note: notes(fanout.bare ? "curvehost's receivers join, then read as the relay's do" : "", spread, lossNote(losses), cpu.note),
    losses,
    details,
  });
  return results;
}

/** Server CPU per event at the most receivers ÷ at one receiver: 1× is flat in N. */
function growthRow(label: string, byCount: Map<number, BothSides>, counts: number[]): Row {
  const [fewest, most] = [counts[0]!, counts[counts.length - 1]!];
  const [first, last] = [byCount.get(fewest)!, byCount.get(most)!];
  const growth = (part: "all" | "main" | "zmq") => ({
    curvehost: last.curvehost.cpuPerEvent[part] / first.curvehost.cpuPerEvent[part],
    baseline: last.baseline.cpuPerEvent[part] / first.baseline.cpuPerEvent[part],
  });
  const both = (part: "main" | "zmq") => pair(growth(part), (value) => `${fmt(value)}×`);
  return {
    bench: "CPU per event growth",
    params: `${most} rx ÷ ${fewest} rx, ${label}`,
    unit: "× (1 = flat in N)",
    ...growth("all"),
    note:
      `main thread ${both("main")}, libzmq I/O ${both("zmq")}. ` +
      "CURVE encrypts every message once per subscriber in libzmq's I/O thread, so that part grows with N for the relay too",
  };
}
