/**
 * Paced: what one event costs when events are few, as a host sees a light
 * session (a few artists dragging objects). One writer sends 1 KiB events
 * evenly spaced (open loop) at 100, 400 and 1,600 a second to 2 and 8
 * receivers; curvehost journals with `--fsync batch`, the default; the relay is
 * driven the same, in turn (repeat.ts). At these rates an event has an
 * event-loop turn to itself, so whatever is paid once a turn (a timer, a
 * promise, a journal write and sync, waking libzmq's threads) is paid once an
 * event, where at saturation many events share it.
 *
 * Rows: the server's CPU per event, split into its main thread, libzmq's I/O
 * threads and every other thread (cpu.ts); writer-to-receiver latency p50 and
 * p99; the same at 400 a second without a journal, to tell the journal's share;
 * and an idle window with the users connected and nothing sent.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import type { BenchContext } from "../context.js";
import type { CpuWindow } from "../cpu.js";
import { openLoop } from "../load.js";
import type { Mode } from "../processes.js";
import { cpuFields, cpuSplitNote, fmt, lossNote, notes, pair, type Row, type ThreadPart } from "../report.js";
import { eachRun, interleaved, medians, spreadNote, totals, type Paired } from "../repeat.js";
import { withRigs, type Rig, type RunResult } from "../rig.js";

const SIZE = 1024;
const RATES = [100, 400, 1600];
const RECEIVERS = [2, 8];
/** The rate and receivers of the row without a journal, and of the issue's target. */
const REFERENCE = { rate: 400, receivers: 2 };

/** One paced row: its rate, its receivers, and whether curvehost journals (`--fsync batch`) or not (`--no-state`). */
export interface PacedCase {
  rate: number;
  receivers: number;
  journal: "batch" | "none";
}

/**
 * `cases` (--paced, as "400x2,1600x8,400x2-no-state"): only these rows, and no
 * idle window: one case measured again and again while working on it.
 */
export async function pacedSuite(ctx: BenchContext, emit: (row: Row) => void, cases?: PacedCase[]): Promise<void> {
  const seconds = ctx.quick ? 2 : 5;
  const idleSeconds = ctx.quick ? 3 : 10;
  const all = cases ?? [
    ...RECEIVERS.flatMap((receivers) => RATES.map((rate): PacedCase => ({ rate, receivers, journal: "batch" }))),
    { ...REFERENCE, journal: "none" },
  ];
  // One pair of servers for each receiver count and journal, kept up for all its rates.
  const groups = [...new Set(all.map((one) => `${one.receivers} ${one.journal}`))];
  for (const group of groups) {
    const rows = all.filter((one) => `${one.receivers} ${one.journal}` === group);
    const { receivers, journal } = rows[0]!;
    const serveArgs = journal === "batch" ? ["--state", await fs.mkdtemp(path.join(ctx.tmpDir, "paced-state-")), "--fsync", "batch"] : ["--no-state"];
    const label = `paced-${receivers}rx${journal === "none" ? "-no-state" : ""}`;
    await withRigs(ctx, { receivers, size: SIZE, label, serveArgs }, async (rigs) => {
      for (const { rate } of rows) emitRate(emit, { rate, receivers, seconds, journal: journal === "batch" ? "--fsync batch" : "--no-state" }, await pacedRuns(ctx, rigs, rate, seconds));
      if (!cases && journal === "batch" && receivers === RECEIVERS.at(-1)) emitIdle(emit, receivers, await interleaved(ctx.repeat, (mode) => rigs[mode].idle(idleSeconds)), idleSeconds);
    });
  }
}

function pacedRuns(ctx: BenchContext, rigs: Record<Mode, Rig>, rate: number, seconds: number): Promise<Paired<RunResult>> {
  return interleaved(ctx.repeat, (mode) => rigs[mode].measure((writer, run) => openLoop(writer, { size: SIZE, run, rate, seconds })));
}

function emitRate(emit: (row: Row) => void, paced: { rate: number; receivers: number; seconds: number; journal: string }, runs: Paired<RunResult>): void {
  const params = `${paced.rate} ev/s, ${paced.receivers} rx, 1 KiB, ${paced.journal}`;
  // Each row's median run by its own figure: the CPU row's and the latency rows' may be different runs.
  const byCpu = medians(runs, (run) => run.cpuPerEvent.all);
  const byP99 = medians(runs, (run) => run.p99);
  const cpu = cpuFields({ curvehost: byCpu.curvehost.cpu, baseline: byCpu.baseline.cpu });
  const losses = totals(runs, (run) => run.losses);
  emit({
    bench: "paced: server CPU per event",
    params,
    unit: "µs",
    curvehost: byCpu.curvehost.cpuPerEvent.all,
    baseline: byCpu.baseline.cpuPerEvent.all,
    ...cpu,
    note: notes(
      cpuSplitNote(byCpu, (run, part) => run.cpuPerEvent[part], "µs"),
      `server at ${pair(byCpu, (run) => `${fmt((run.cpu.server?.share ?? NaN) * 100)} %`)} of a core`,
      spreadNote(runs, (run) => run.cpuPerEvent.all),
      lossNote(losses),
      cpu.note,
    ),
    losses,
    details: { rate: paced.rate, seconds: paced.seconds, cpuPerEvent: { curvehost: byCpu.curvehost.cpuPerEvent, baseline: byCpu.baseline.cpuPerEvent }, cpuPerEventEveryRun: eachRun(runs, (run) => run.cpuPerEvent) },
  });
  emit({ bench: "paced: latency p50", params, unit: "ms", curvehost: byP99.curvehost.p50, baseline: byP99.baseline.p50, note: `writer to receiver, from each event's due time; open loop ${paced.seconds} s` });
  emit({ bench: "paced: latency p99", params, unit: "ms", curvehost: byP99.curvehost.p99, baseline: byP99.baseline.p99, note: spreadNote(runs, (run) => run.p99), details: { p99EveryRun: eachRun(runs, (run) => run.p99) } });
}

/** Server CPU while its users are connected and nothing is sent: curvehost's pings (one a second to each user) and anything that polls. */
function emitIdle(emit: (row: Row) => void, receivers: number, runs: Paired<CpuWindow>, seconds: number): void {
  const share = (window: CpuWindow) => window.server?.share ?? NaN;
  const sides = medians(runs, share);
  const percent = (window: CpuWindow, part: ThreadPart) => ((window.server?.[`${part}Seconds` as const] ?? NaN) / window.wallSeconds) * 100;
  const users = receivers + 1;
  const ms = (window: CpuWindow) => ((window.server?.seconds ?? NaN) / window.wallSeconds) * 1000;
  emit({
    bench: "idle: server CPU",
    params: `${users} users connected (${receivers} receivers, the writer), nothing sent, ${seconds} s`,
    unit: "% of a core",
    curvehost: share(sides.curvehost) * 100,
    baseline: share(sides.baseline) * 100,
    note: notes(
      cpuSplitNote(sides, percent, "%"),
      `curvehost pings each user once a second: ${fmt((ms(sides.curvehost) * 1000) / users)} µs of CPU a user a second, pings and all`,
      spreadNote(runs, share),
    ),
    details: { seconds, users, shareEveryRun: eachRun(runs, share) },
  });
}
