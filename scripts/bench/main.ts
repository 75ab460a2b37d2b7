/**
 * npm run bench -- [--quick] [--only SUITE[,SUITE]] [--repeat N] [--profile DIR]
 *                    [--baseline-build DIR] [--paced CASES] [--markdown]
 *   SUITE: fanout, latency, paced, commits, join, memory, handshakes, blender; --repeat
 *   measures each fan-out, latency, paced and handshake row N times a side, interleaved, and
 *   reports the medians (default 3, 1 with --quick); --profile writes a V8 CPU
 *   profile of every curvehost server started into DIR; --baseline-build DIR
 *   measures the curvehost built in DIR (another checkout, after npm run build)
 *   in the relay's place: a change before and after, in one run; --paced
 *   400x2,1600x8,400x2-no-state narrows the paced suite to those cases;
 *   --markdown writes BENCHMARKS.md (markdown.ts).
 *
 * curvehost against a minimal relay with the same CURVE keys (relay.ts),
 * measured in the same run and driven by the same clients; every figure is also
 * given as a ratio to that baseline. Servers, receivers and handshake bursts run
 * in child processes; the CPU each used is measured, and a row says when the
 * load generator, not the server, was the limit. No timed assertions.
 */
import { existsSync, promises as fs, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { KeyStore, generateKeyPair, type KeyPair } from "../../src/keys/index.js";
import type { BenchContext } from "./context.js";
import { writeMarkdown, type SuiteRun } from "./markdown.js";
import { markdownTable, printRow, writeResults, type Row } from "./report.js";
import { blenderSuite } from "./suites/blender.js";
import { commitsSuite } from "./suites/commits.js";
import { fanoutSuite } from "./suites/fanout.js";
import { handshakesSuite } from "./suites/handshakes.js";
import { joinAndMemorySuites } from "./suites/join.js";
import { latencySuite } from "./suites/latency.js";
import { pacedSuite, type PacedCase } from "./suites/paced.js";
import { now } from "./timing.js";

const SUITES = ["fanout", "latency", "paced", "commits", "join", "memory", "handshakes", "blender"] as const;
type Suite = (typeof SUITES)[number];
/** The writer, and up to 64 receivers or joined users. */
const USERS = 65;

interface Arguments {
  quick: boolean;
  repeat: number;
  suites: Set<Suite>;
  profileDir: string | undefined;
  baselineCli: string | undefined;
  pacedCases: PacedCase[] | undefined;
  markdown: boolean;
}

function parseArguments(): Arguments {
  const { values } = parseArgs({
    options: { quick: { type: "boolean", default: false }, only: { type: "string" }, repeat: { type: "string" }, profile: { type: "string" }, "baseline-build": { type: "string" }, paced: { type: "string" }, markdown: { type: "boolean", default: false } },
  });
  const names = values.only ? values.only.split(",").map((name) => name.trim()) : [...SUITES];
  const unknown = names.filter((name) => !(SUITES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`bench: no suite ${unknown.join(", ")}; the suites are ${SUITES.join(", ")}`);
  const repeat = values.repeat === undefined ? (values.quick ? 1 : 3) : Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error(`bench: --repeat takes a whole number from 1 to 20, not "${values.repeat}"`);
  const build = values["baseline-build"];
  const baselineCli = build === undefined ? undefined : path.resolve(build, "dist/src/cli/main.js");
  if (baselineCli && !existsSync(baselineCli)) throw new Error(`bench: --baseline-build takes a curvehost checkout built with npm run build; ${baselineCli} is not there`);
  const pacedCases = values.paced?.split(",").map((one): PacedCase => {
    const match = /^(\d+)x(\d+)(-no-state)?$/.exec(one.trim());
    if (!match) throw new Error(`bench: --paced takes RATExRECEIVERS cases such as 400x2,1600x8,400x2-no-state, not "${one}"`);
    return { rate: Number(match[1]), receivers: Number(match[2]), journal: match[3] ? "none" : "batch" };
  });
  if (values.markdown && baselineCli) throw new Error("bench: BENCHMARKS.md holds figures against the relay; --markdown does not go with --baseline-build");
  return { quick: values.quick!, repeat, suites: new Set(names as Suite[]), profileDir: values.profile ? path.resolve(values.profile) : undefined, baselineCli, pacedCases, markdown: values.markdown! };
}

/** A key store with the server keypair, USERS allowed users and, if asked, the handshake burst's keys. */
async function createKeys(dir: string, burstSize: number): Promise<Pick<BenchContext, "keysDir" | "serverPublicKey" | "serverSecretKey" | "users" | "burst">> {
  const store = new KeyStore(dir);
  const server = await store.create();
  const allowed = async (prefix: string, count: number) => {
    const pairs: KeyPair[] = [];
    for (let i = 0; i < count; i++) {
      const pair = await generateKeyPair();
      await store.allow(`${prefix}${i}`, pair.publicKey, { role: prefix === "u" && i === 0 ? "admin" : "member", expires: null });
      pairs.push(pair);
    }
    return pairs;
  };
  return { keysDir: store.dir, serverPublicKey: server.publicKey, serverSecretKey: server.secretKey, users: await allowed("u", USERS), burst: await allowed("b", burstSize) };
}

/** How a suite's table was measured: the command, when, how long, how busy the machine was. */
function measuredLine(started: { at: number; load: number }, run: { quick: boolean; repeat: number; failure: string }): string {
  const command = ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" ");
  const date = new Date().toISOString().replace("T", " ").slice(0, 16);
  const seconds = ((now() - started.at) / 1000).toFixed(0);
  const each = run.repeat === 1 ? "each row measured once a side" : `each repeated row the median of ${run.repeat} runs a side`;
  const load = `load average ${started.load.toFixed(1)} at its start, ${os.loadavg()[0]!.toFixed(1)} at its end`;
  return `\`${command}\`, ${date} UTC, ${seconds} s, ${load}; ${each}${run.quick ? " (quick)" : ""}.${run.failure ? ` FAILED: ${run.failure}` : ""}`;
}

async function main(): Promise<number> {
  const started = now();
  const { quick, repeat, suites, profileDir, baselineCli, pacedCases, markdown } = parseArguments();
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "unknown CPU"}`;
  console.log(`curvehost bench${quick ? " (quick)" : ""} on ${machine}, Node ${process.version}; suites: ${[...suites].join(", ")}; each fan-out, latency, paced and handshake row ${repeat === 1 ? "measured once a side" : `the median of ${repeat} interleaved runs a side`}`);
  if (baselineCli) console.log(`The baseline is not the relay but the curvehost built at ${baselineCli}.`);
  console.log("Notes give curvehost/baseline as a/b; \"cores used\" is CPU time ÷ wall time over the measured window.\n");
  if (profileDir) await fs.mkdir(profileDir, { recursive: true });

  const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), "curvehost-bench-"));
  process.once("exit", () => rmSync(tmpDir, { recursive: true, force: true })); // also when interrupted
  const ctx: BenchContext = { quick, repeat, tmpDir, profileDir, baselineCli, ...(await createKeys(path.join(tmpDir, "keys"), suites.has("handshakes") ? (quick ? 50 : 200) : 0)) };
  const rows: Row[] = [];
  let suiteRows: Row[] = [];
  const emit = (row: Row) => (rows.push(row), suiteRows.push(row), printRow(row));
  const measuredSuites: SuiteRun[] = [];
  const plan: Array<[string, boolean, () => Promise<void>]> = [
    ["fanout", suites.has("fanout"), () => fanoutSuite(ctx, emit)],
    ["latency", suites.has("latency"), () => latencySuite(ctx, emit)],
    ["paced", suites.has("paced"), () => pacedSuite(ctx, emit, pacedCases)],
    ["commits", suites.has("commits"), () => commitsSuite(ctx, emit)],
    // One table in BENCHMARKS.md holds both: with --markdown, either one measures both, or the other's rows would be lost.
    ["join, memory", suites.has("join") || suites.has("memory"), () => joinAndMemorySuites(ctx, emit, { join: suites.has("join") || markdown, memory: suites.has("memory") || markdown })],
    ["handshakes", suites.has("handshakes"), () => handshakesSuite(ctx, emit)],
    ["blender", suites.has("blender"), () => blenderSuite(ctx, emit)],
  ];
  const failures: string[] = [];
  for (const [name, selected, run] of plan) {
    if (!selected) continue;
    suiteRows = [];
    const suiteStarted = { at: now(), load: os.loadavg()[0]! };
    let failure = "";
    try {
      await run();
    } catch (error) {
      // One suite failing (a timeout, a server that died) should not lose the others' figures.
      console.error(`\nbench: the ${name} suite failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      failure = `${name}: ${error instanceof Error ? error.message : String(error)}`;
      failures.push(failure);
    }
    measuredSuites.push({ suite: name, rows: suiteRows, measured: measuredLine(suiteStarted, { quick, repeat, failure }) });
  }

  const out = path.resolve("bench-results.json");
  await writeResults(out, { date: new Date().toISOString(), quick, repeat, machine, node: process.version, seconds: (now() - started) / 1000, failures }, rows);
  console.log(`\n${markdownTable(rows)}\n`);
  if (failures.length > 0) console.log(`FAILED: ${failures.join("; ")}`);
  console.log(`Wrote ${out} (${((now() - started) / 1000).toFixed(0)} s)`);
  if (markdown) {
    const file = path.resolve("BENCHMARKS.md");
    await writeMarkdown(file, { order: plan.map(([name]) => name), machine: `${machine}, Node ${process.version}`, suites: measuredSuites });
    console.log(`Wrote ${file}`);
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code), // zeromq's sockets and timers would keep the process alive
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1); // processes.ts kills every child on exit
  },
);
