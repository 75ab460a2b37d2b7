/** Rows of results: percentiles, the CPU notes, one line per row as it completes, the final table and JSON. */
import { promises as fs } from "node:fs";
import { SATURATED_SHARE, type CpuWindow } from "./cpu.js";

export interface Row {
  bench: string;
  params: string;
  unit: string;
  /** null where the figure does not apply (printed "-"). */
  curvehost: number | null;
  baseline: number | null;
  note?: string;
  /** Who used the machine in the measured window(s): printed with the row and kept in the JSON, left out of the table. */
  usage?: string;
  /** Messages (or nodes, or clients) that did not arrive, where the row counts deliveries. */
  losses?: Sides<number>;
  /** Some load-generator process used ≥ 90 % of a core during the window of either side. */
  loadGeneratorSaturated?: boolean;
  /** The machine had < 5 % idle during the window of either side. */
  machineBusy?: boolean;
  /** The CPU accounting of each side's measured window. */
  cpu?: Sides<CpuWindow>;
  /** Figures behind the row (offered rate, nodes held, bytes…). */
  details?: Record<string, unknown>;
}

export interface Sides<T> {
  curvehost?: T | undefined;
  baseline?: T | undefined;
}

/** Nearest-rank percentile of ascending values; NaN when there are none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  const size = Math.abs(value);
  return size >= 100 ? value.toFixed(0) : size >= 1 ? value.toFixed(2) : value.toFixed(3);
}

function ratio(row: Row): number | null {
  return row.curvehost !== null && row.baseline !== null && row.baseline !== 0 ? row.curvehost / row.baseline : null;
}

/** "a/b" for curvehost/baseline, or the one that is there. */
export function pair<T>(sides: Sides<T>, show: (value: T) => string): string {
  const shown = [sides.curvehost, sides.baseline].map((value) => (value === undefined ? null : show(value)));
  return shown[0] !== null && shown[1] !== null ? `${shown[0]}/${shown[1]}` : (shown[0] ?? shown[1] ?? "-");
}

/** Cores used by processes outside the bench from which the row says its figures were disturbed. */
const OTHERS_NOTED = 0.2;

/** "losses a/b", loudly when there are any: every figure assumes none. */
export function lossNote(losses: Sides<number>): string {
  const lost = (losses.curvehost ?? 0) + (losses.baseline ?? 0) > 0;
  return `losses ${pair(losses, String)}${lost ? " (SHOULD BE 0)" : ""}`;
}

const percent = (share: number) => `${(share * 100).toFixed(0)} %`;

/**
 * Who used the machine during the measured window(s): server and load-generator
 * CPU (in cores) and the machine's idle share as `usage`, and as `note` the loud
 * flags alone: a load generator that saturated, a machine with no idle left,
 * other processes disturbing the figures.
 */
export function cpuFields(cpu: Sides<CpuWindow>): Pick<Row, "cpu" | "loadGeneratorSaturated" | "machineBusy"> & { usage: string; note: string } {
  const windows = [cpu.curvehost, cpu.baseline].filter((window): window is CpuWindow => window !== undefined);
  const cores = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : "-");
  const usage =
    `cores used: server ${pair(cpu, (w) => cores(w.server?.share ?? NaN))}, load generators ${pair(cpu, (w) => cores(w.loadGenerators.reduce((sum, load) => sum + load.share, 0)))}` +
    ` (busiest process ${pair(cpu, (w) => cores(Math.max(...w.loadGenerators.map((load) => load.share))))}); idle ${pair(cpu, (w) => percent(w.machineIdle))} of ${windows[0]?.cores ?? "?"} cores`;
  const flags: string[] = [];
  const saturated = (["curvehost", "baseline"] as const).flatMap((side) =>
    (cpu[side]?.loadGenerators ?? []).filter((load) => load.share >= SATURATED_SHARE).map((load) => `${side}: ${load.label} at ${percent(load.share)} of a core`),
  );
  if (saturated.length > 0) flags.push(`LOAD GENERATOR SATURATED (${saturated.join(", ")})`);
  const busy = windows.some((window) => window.busyMachine);
  if (busy) flags.push("machine busy (< 5 % idle)");
  if (windows.some((window) => window.others >= OTHERS_NOTED)) flags.push(`OTHER PROCESSES used ${pair(cpu, (w) => cores(w.others))} cores: figures disturbed`);
  return { cpu, loadGeneratorSaturated: saturated.length > 0, machineBusy: busy, usage, note: flags.join("; ") };
}

/** The server's threads as cpu.ts splits their CPU time. */
export type ThreadPart = "main" | "zmq" | "other";

/** The server's CPU split by thread, for a note: `figure` is one side's for one part, in `unit`. */
export function cpuSplitNote<T>(sides: Sides<T>, figure: (side: T, part: ThreadPart) => number, unit: string): string {
  const part = (name: ThreadPart) => `${pair(sides, (side) => fmt(figure(side, name)))} ${unit}`;
  return `main thread ${part("main")}, libzmq I/O ${part("zmq")}, other threads ${part("other")}`;
}

/** The parts of a note that say something, joined. */
export function notes(...parts: Array<string | undefined>): string {
  return parts.filter((part) => part).join("; ");
}

export function printRow(row: Row): void {
  const values = `${fmt(row.curvehost).padStart(9)} vs ${fmt(row.baseline).padStart(9)} ${row.unit}`;
  const said = notes(row.note, row.usage);
  console.log(`${row.bench.padEnd(26)} ${row.params.padEnd(40)} ${values}${ratio(row) === null ? "" : ` = ${fmt(ratio(row))}×`}${said ? `  (${said})` : ""}`);
}

export function markdownTable(rows: Row[]): string {
  const lines = ["| bench | params | unit | curvehost | baseline | ratio | note |", "|---|---|---|---|---|---|---|"];
  for (const row of rows) lines.push(`| ${row.bench} | ${row.params} | ${row.unit} | ${fmt(row.curvehost)} | ${fmt(row.baseline)} | ${fmt(ratio(row))} | ${row.note ?? ""} |`);
  return lines.join("\n");
}

export async function writeResults(file: string, header: { date: string; quick: boolean; repeat: number; machine: string; node: string; seconds: number; failures: string[] }, rows: Row[]): Promise<void> {
  const withRatios = rows.map((row) => ({ ...row, ratio: ratio(row) }));
  // NaN and Infinity are not JSON: they become null, like a figure that does not apply.
  await fs.writeFile(file, JSON.stringify({ ...header, rows: withRatios }, (_, value) => (typeof value === "number" && !Number.isFinite(value) ? null : value), 2) + "\n");
}
