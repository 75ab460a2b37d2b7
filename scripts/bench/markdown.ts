/**
 * BENCHMARKS.md (--markdown): the machine, the method (method.md) and each
 * suite's latest table with the run that measured it. A run replaces the
 * sections of the suites it ran and keeps the others, so `--only paced` does not
 * lose the fan-out table; the Findings section is written by hand and kept as
 * it is.
 */
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { markdownTable, type Row } from "./report.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** method.md beside the sources: the bench runs from dist/scripts/bench. */
const METHOD = path.join(here, "../../../scripts/bench/method.md");

const TITLE = "# curvehost benchmarks";
const GENERATED = "<!-- Written by `npm run bench -- --markdown` (scripts/bench/markdown.ts) up to Findings, which is kept as it is. -->";
const FINDINGS = "## Findings";
const suiteMark = (suite: string) => `<!-- suite: ${suite} -->`;

export interface SuiteRun {
  suite: string;
  rows: Row[];
  /** The command, its date, the machine and its load: how this table was measured. */
  measured: string;
}

/** Writes `file` with this run's suites, keeping the sections of the suites it did not run and the findings. */
export async function writeMarkdown(file: string, run: { order: readonly string[]; machine: string; suites: SuiteRun[] }): Promise<void> {
  const old = existsSync(file) ? await fs.readFile(file, "utf8") : "";
  const kept = oldSections(old);
  for (const { suite, rows, measured } of run.suites) kept.set(suite, `${suiteMark(suite)}\n### ${suite}\n\n${measured}\n\n${markdownTable(rows)}\n`);
  const findingsAt = old.indexOf(`\n${FINDINGS}\n`);
  const findings = findingsAt >= 0 ? old.slice(findingsAt + 1) : `${FINDINGS}\n\n(none yet)\n`;
  const sections = run.order.filter((suite) => kept.has(suite)).map((suite) => kept.get(suite)!);
  const text = [
    TITLE,
    "",
    GENERATED,
    "",
    `Every table below was measured on ${run.machine}; the line above each says with which command, when, and how busy the machine was.`,
    "",
    (await fs.readFile(METHOD, "utf8")).trimEnd(),
    "",
    "## Results",
    "",
    ...sections,
    findings.trimEnd(),
    "",
  ].join("\n");
  await fs.writeFile(file, text);
}

/** The suite sections of an earlier BENCHMARKS.md, by suite. */
function oldSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  const end = text.indexOf(`\n${FINDINGS}\n`);
  const results = end >= 0 ? text.slice(0, end + 1) : text;
  const marks = [...results.matchAll(/<!-- suite: ([\w, ]+) -->\n/g)];
  marks.forEach((mark, i) => sections.set(mark[1]!, results.slice(mark.index, marks[i + 1]?.index ?? results.length).trimEnd() + "\n"));
  return sections;
}
