/**
 * The Blender add-on at scale, with headless Blenders driving its headless API
 * (test/clients/blender-driver.ts) against a curvehost server:
 *   - share and join a scene of OBJECTS objects (each its own cube mesh, one material),
 *     and a scene of one grid mesh of about GRID² vertices: the admin's share (until the
 *     server has it all) and a member's join (until its Blender holds it all), each timed
 *     inside its Blender;
 *   - a move seen: the admin moves the object it holds MOVES times, 20 ms apart; the time
 *     from the edit in one Blender to the new location in the other's (same clock).
 * No baseline: nothing else does this. Blender's own start is not counted.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { fingerprint, writeInvite } from "../../../src/keys/index.js";
import { Blender, requireBlender } from "../../../test/clients/blender-driver.js";
import { startServer, type BenchContext } from "../context.js";
import { CpuMeter, type CpuWindow } from "../cpu.js";
import type { ServerProcess } from "../processes.js";
import { cpuFields, notes, percentile, type Row } from "../report.js";

const MOVE_GAP_MS = 20;

export async function blenderSuite(ctx: BenchContext, emit: (row: Row) => void): Promise<void> {
  requireBlender();
  const objects = ctx.quick ? 200 : 1000;
  const grid = ctx.quick ? 300 : 1000;
  const moves = ctx.quick ? 50 : 200;

  const cubes = await shareAndJoin(ctx, "blender-objects", OBJECTS_SCENE(objects), async (admin, member, server) => {
    const meter = new CpuMeter(server.measured, [admin.measured, member.measured]);
    const seen = await moveSeen(admin, member, moves);
    const cpu = meter.stop();
    emit(moveRow("p50", seen, objects, cpu));
    emit(moveRow("p99", seen, objects, cpu));
  });
  for (const row of sceneRows(`${objects} objects`, cubes)) emit(row);
  const mesh = await shareAndJoin(ctx, "blender-mesh", GRID_SCENE(grid), async () => undefined);
  for (const row of sceneRows(`one mesh of ${((grid + 1) ** 2 / 1e6).toFixed(2)}M vertices`, mesh)) emit(row);
}

/** Python that fills the admin's scene with `count` objects, each with its own cube mesh. */
const OBJECTS_SCENE = (count: number) => `
import bmesh
for o in list(bpy.data.objects): bpy.data.objects.remove(o)
material = bpy.data.materials.new("shared"); material.use_nodes = True
cube = bpy.data.meshes.new("cube"); bm = bmesh.new(); bmesh.ops.create_cube(bm, size=1); bm.to_mesh(cube); bm.free()
for i in range(${count}):
    mesh = cube.copy(); mesh.materials.append(material)
    o = bpy.data.objects.new(f"o{i}", mesh); o.location = (i % 32 * 2, i // 32 * 2, 0)
    bpy.context.scene.collection.objects.link(o)
bpy.data.meshes.remove(cube)
bpy.data.objects["o0"].select_set(True)
`;
const GRID_SCENE = (size: number) => `bpy.ops.mesh.primitive_grid_add(x_subdivisions=${size}, y_subdivisions=${size})`;

interface SceneFigures {
  share: number;
  join: number;
  nodes: number;
  bytes: number;
  held: { objects: number; vertices: number };
  expected: { objects: number; vertices: number };
  cpu: { share: CpuWindow; join: CpuWindow };
}

/** A server, an admin Blender that builds `scene` and shares it, a member that joins; then `also`. */
async function shareAndJoin(
  ctx: BenchContext,
  label: string,
  scene: string,
  also: (admin: Blender, member: Blender, server: ServerProcess) => Promise<void>,
): Promise<SceneFigures> {
  const server = await startServer(ctx, "curvehost", label);
  const dir = await fs.mkdtemp(path.join(ctx.tmpDir, `${label}-`));
  const invite = async (index: number, name: string) => {
    const file = path.join(dir, `${name}.invite`);
    const role = index === 0 ? "admin" : "member";
    await writeInvite(file, {
      name: `u${index}`,
      role,
      server: { host: "127.0.0.1", port: server.port, publicKey: ctx.serverPublicKey, fingerprint: fingerprint(ctx.serverPublicKey) },
      client: ctx.users[index]!,
    });
    return file;
  };
  const admin = new Blender(`${label} admin`);
  const member = new Blender(`${label} member`);
  try {
    const count = "result = {'objects': len(bpy.context.scene.objects), 'vertices': sum(len(m.vertices) for m in bpy.data.meshes if m.users)}";
    const expected = await admin.run(`import curvehost_blender\n${scene}\n${count}`, 300_000);
    const sharing = new CpuMeter(server.measured, [admin.measured]);
    const shared = await admin.run(
      `t = time.perf_counter()\ns = curvehost_blender.connect(${JSON.stringify(await invite(0, "admin"))}, share=True)\n` +
        `result = {'seconds': time.perf_counter() - t, 'nodes': len(s.client.replica.nodes), 'bytes': sum(len(n.data) for n in s.client.replica.nodes.values())}`,
      300_000,
    );
    const sharedCpu = sharing.stop();
    const joining = new CpuMeter(server.measured, [member.measured]);
    const joined = await member.run(
      `import curvehost_blender\nt = time.perf_counter()\ns = curvehost_blender.connect(${JSON.stringify(await invite(1, "member"))})\n` +
        `result = {'seconds': time.perf_counter() - t}`,
      300_000,
    );
    const joinedCpu = joining.stop();
    const held = await member.run(count);
    await also(admin, member, server);
    return { share: shared.seconds, join: joined.seconds, nodes: shared.nodes, bytes: shared.bytes, held, expected, cpu: { share: sharedCpu, join: joinedCpu } };
  } finally {
    await Promise.all([admin.kill(), member.kill()]);
    await server.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Milliseconds from each of `count` moves in the admin's Blender to its sight in the member's. */
async function moveSeen(admin: Blender, member: Blender, count: number): Promise<Float64Array> {
  await member.until(`s.owner(bpy.data.objects['o0']) == 'u0'`, 30);
  const watching = member.run(
    `o = bpy.data.objects['o0']; last = o.location.x; seen = {}; deadline = time.time() + ${count * 0.5 + 30}\n` +
      `while last < ${999 + count} and time.time() < deadline:\n` +
      `    s.tick(0.01)\n` +
      `    if o.location.x != last:\n` +
      `        last = o.location.x; seen[int(last)] = time.time()\n` +
      `result = seen`,
    count * 500 + 60_000,
  );
  const moved = admin.run(
    `o = bpy.data.objects['o0']; sent = {}\n` +
      `for i in range(${count}):\n` +
      `    sent[1000 + i] = time.time()\n` +
      `    o.location.x = 1000 + i\n` +
      `    bpy.context.view_layer.update(); s.tick()\n` +
      `    pause = time.time() + ${MOVE_GAP_MS / 1000}\n` +
      `    while time.time() < pause: s.tick(min(0.01, max(0.0, pause - time.time())))\n` +
      `result = sent`,
    count * 500 + 60_000,
  );
  const [seen, sent] = (await Promise.all([watching, moved])) as [Record<string, number>, Record<string, number>];
  // Two moves that land in one tick of the member show as the later one: a move is seen
  // when the member first shows it or any later one.
  const sights = Object.entries(seen).map(([x, at]) => [Number(x), at] as const);
  const latencies = Object.entries(sent).flatMap(([x, at]) => {
    const first = Math.min(...sights.filter(([shown]) => shown >= Number(x)).map(([, when]) => when));
    return Number.isFinite(first) ? [(first - at) * 1000] : [];
  });
  if (latencies.length < count) throw new Error(`the member saw ${latencies.length} of ${count} moves`);
  return Float64Array.from(latencies).sort();
}

function moveRow(which: "p50" | "p99", sorted: Float64Array, objects: number, window: CpuWindow): Row {
  const cpu = cpuFields({ curvehost: window });
  return {
    bench: `blender move seen ${which}`,
    params: `${sorted.length} moves in a ${objects}-object scene`,
    unit: "ms from edit to the other Blender",
    curvehost: percentile(sorted, which === "p50" ? 50 : 99),
    baseline: null,
    ...cpu,
    note: notes(`one held object moved every ${MOVE_GAP_MS} ms; headless Blenders ticking; target p99 < 30 ms`, cpu.note),
    details: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] },
  };
}

function sceneRows(label: string, figures: SceneFigures): Row[] {
  const complete =
    figures.held.objects === figures.expected.objects && figures.held.vertices === figures.expected.vertices
      ? "the member holds the whole scene"
      : `THE MEMBER HOLDS ${figures.held.objects} OBJECTS AND ${figures.held.vertices} VERTICES OF ${figures.expected.objects} AND ${figures.expected.vertices}`;
  const size = `${figures.nodes} nodes, ${(figures.bytes / 1e6).toFixed(1)} MB`;
  const { cpu: windows, ...details } = figures;
  const share = cpuFields({ curvehost: windows.share });
  const join = cpuFields({ curvehost: windows.join });
  return [
    { bench: "blender share", params: label, unit: "s until the server has it", curvehost: figures.share, baseline: null, ...share, note: notes(size, share.note), details },
    {
      bench: "blender join",
      params: label,
      unit: "s until the member's Blender holds it",
      curvehost: figures.join,
      baseline: null,
      ...join,
      note: notes(complete, size, label.includes("objects") ? "target < 1.5 s for 1,000 objects" : undefined, join.note),
      details,
    },
  ];
}
