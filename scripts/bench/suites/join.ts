/**
 * Join and memory share one curvehost server holding a big session, since
 * building the session is the slow part:
 *   - empty server: RSS;
 *   - one writer commits NODES nodes of 10 KiB, WINDOW in flight;
 *   - join: the time for a new client to hold it all (connect, join, sync);
 *     baseline: the same bytes relayed through the relay to one subscriber;
 *   - memory: more users join (connect + join), then the server's RSS.
 */
import type { Client } from "../../../src/client/index.js";
import { CpuMeter, THIS_PROCESS, type CpuWindow } from "../cpu.js";
import { startServer, type BenchContext } from "../context.js";
import { closedLoop, curvehostClient, WINDOW } from "../load.js";
import { memoryOf } from "../processes.js";
import { cpuFields, lossNote, notes, type Row } from "../report.js";
import { withRig } from "../rig.js";
import { now, sleep, withTimeout } from "../timing.js";
import { joinIdleUsers, memoryRows } from "./memory.js";

const NODE_BYTES = 10 * 1024;

export async function joinAndMemorySuites(ctx: BenchContext, emit: (row: Row) => void, which: { join: boolean; memory: boolean }): Promise<void> {
  const nodes = ctx.quick ? 1000 : 10_000;
  const users = ctx.quick ? 8 : 64;
  const bytes = nodes * NODE_BYTES;
  const sessionLabel = `${nodes} nodes of 10 KiB (${(bytes / 1e6).toFixed(0)} MB)`;
  const server = await startServer(ctx, "curvehost", "join-memory");
  const clients: Client[] = [];
  const connect = async (index: number, sync: boolean) => {
    const client = curvehostClient(server.port, ctx.serverPublicKey, ctx.users[index]!);
    clients.push(client);
    client.connect();
    await client.join();
    if (sync) await client.sync();
    return client;
  };
  let joined: { seconds: number; held: number; cpu: CpuWindow };
  let memory: Row[] = [];
  try {
    await sleep(300); // the server has just printed its banner: let its start-up settle
    const empty = memoryOf(server.measured.pid);
    const committer = await withTimeout(connect(0, true), 30_000, "the session's writer joining");
    await withTimeout(commitNodes(committer, nodes), 300_000, `committing ${nodes} nodes`);

    const meter = new CpuMeter(server.measured, [THIS_PROCESS]);
    const started = now();
    const joiner = await withTimeout(connect(1, true), 300_000, "the joiner taking the session");
    joined = { seconds: (now() - started) / 1000, held: joiner.replica.nodes.size, cpu: meter.stop() };

    if (which.memory) {
      await joinIdleUsers(users - 2, (i) => connect(i + 2, false));
      memory = memoryRows({ pid: server.measured.pid, empty, users, sessionBytes: bytes, sessionLabel });
    }
  } finally {
    for (const client of clients) client.close();
    await server.stop();
  }

  if (which.join) {
    const relayed = await withRig(ctx, "baseline", { receivers: 1, size: NODE_BYTES, label: "join-baseline" }, (rig) =>
      rig.measure((writer, run) => closedLoop(writer, { size: NODE_BYTES, run, until: { count: nodes, withinMs: 300_000 } })),
    );
    const held = joined.held === nodes ? `held ${joined.held} nodes` : `HELD ${joined.held} OF ${nodes} NODES: THE JOIN IS INCOMPLETE`;
    const losses = { curvehost: nodes - joined.held, baseline: relayed.losses };
    const cpu = cpuFields({ curvehost: joined.cpu, baseline: relayed.cpu });
    emit({
      bench: "join",
      params: sessionLabel,
      unit: "s to hold it all",
      curvehost: joined.seconds,
      baseline: relayed.seconds,
      ...cpu,
      note: notes(`${held}; curvehost: connect, join, sync; baseline: the same bytes relayed to one subscriber, ${WINDOW} in flight`, lossNote(losses), cpu.note),
      losses,
      details: { nodes, bytes, held: joined.held },
    });
  }
  for (const row of memory) emit(row);
}

/** Commits `count` new nodes of NODE_BYTES, WINDOW in flight. */
async function commitNodes(client: Client, count: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await client.commit(`node-${i}`, Buffer.alloc(NODE_BYTES, i % 251));
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}
