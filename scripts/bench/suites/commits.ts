/**
 * Commits through the journal: commits/s for each --fsync mode, against the same
 * server with no journal (--no-state) as the baseline. One writer, closed loop,
 * no other receivers.
 */
import path from "node:path";
import { promises as fs } from "node:fs";
import type { BenchContext } from "../context.js";
import { closedLoop, WINDOW } from "../load.js";
import { cpuFields, notes, type Row } from "../report.js";
import { withRig, type RunResult } from "../rig.js";

const SIZE = 1024;

export async function commitsSuite(ctx: BenchContext, emit: (row: Row) => void): Promise<void> {
  const seconds = ctx.quick ? 1 : 3;
  const commitsPerSecond = (label: string, serveArgs: string[]): Promise<RunResult> =>
    withRig(ctx, "curvehost", { receivers: 0, size: SIZE, label, serveArgs }, (rig) =>
      rig.measure((writer, run) => closedLoop(writer, { size: SIZE, run, until: { seconds } })),
    );
  const ephemeral = await commitsPerSecond("commits-no-state", ["--no-state"]);
  for (const mode of ["never", "batch", "always"]) {
    const stateDir = await fs.mkdtemp(path.join(ctx.tmpDir, `state-${mode}-`));
    const journaled = await commitsPerSecond(`commits-fsync-${mode}`, ["--state", stateDir, "--fsync", mode]);
    const rate = (result: RunResult) => result.sent / result.seconds;
    const cpu = cpuFields({ curvehost: journaled.cpu, baseline: ephemeral.cpu });
    emit({
      bench: "commits, journal",
      params: `--fsync ${mode}, 1 KiB`,
      unit: "commits/s",
      curvehost: rate(journaled),
      baseline: rate(ephemeral),
      ...cpu,
      note: notes(`baseline: curvehost --no-state; ${WINDOW} in flight`, cpu.note),
    });
  }
}
