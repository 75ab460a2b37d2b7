/**
 * Repeated, interleaved measurement. On a small shared machine one window can
 * differ from the next by a third, so a single curvehost window against a single
 * baseline window says little about a ratio. A row instead keeps both servers
 * up, measures them in turn `repeat` times (alternating which goes first, so
 * drift falls on both sides), and reports each side's median window together
 * with the spread of the paired ratios.
 */
import type { Mode } from "./processes.js";
import { fmt, type Sides } from "./report.js";

export type Paired<T> = Record<Mode, T[]>;

export async function interleaved<T>(repeat: number, measure: (mode: Mode) => Promise<T>): Promise<Paired<T>> {
  const runs: Paired<T> = { curvehost: [], baseline: [] };
  for (let i = 0; i < repeat; i++) {
    const order: Mode[] = i % 2 === 0 ? ["curvehost", "baseline"] : ["baseline", "curvehost"];
    for (const mode of order) runs[mode].push(await measure(mode));
  }
  return runs;
}

/** The run whose `key` is the median (the lower middle one of an even count). */
export function medianRun<T>(runs: readonly T[], key: (run: T) => number): T {
  if (runs.length === 0) throw new Error("bench: no runs to take a median of");
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Each side's median run. */
export function medians<T>(runs: Paired<T>, key: (run: T) => number): Required<Sides<T>> {
  return { curvehost: medianRun(runs.curvehost, key), baseline: medianRun(runs.baseline, key) };
}

/** One figure of every run, in the order measured. */
export function eachRun<T, U>(runs: Paired<T>, value: (run: T) => U): Paired<U> {
  return { curvehost: runs.curvehost.map(value), baseline: runs.baseline.map(value) };
}

/** A figure summed over every run of each side (losses: any run's count). */
export function totals<T>(runs: Paired<T>, value: (run: T) => number): Required<Sides<number>> {
  const sum = (side: T[]) => side.reduce((total, run) => total + value(run), 0);
  return { curvehost: sum(runs.curvehost), baseline: sum(runs.baseline) };
}

/** "ratio 0.61–0.69 over 3 pairs", from the i-th curvehost run against the i-th baseline run; nothing for one pair. */
export function spreadNote<T>(runs: Paired<T>, key: (run: T) => number): string {
  const ratios = runs.curvehost.map((run, i) => key(run) / key(runs.baseline[i]!)).filter(Number.isFinite);
  if (ratios.length < 2) return "";
  return `ratio ${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))} over ${ratios.length} pairs`;
}
