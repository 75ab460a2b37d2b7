/**
 * The Blender add-on end to end: a real server and headless Blenders driving the
 * add-on's headless API, as two artists (and a third, late) would.
 */
import test, { type ExecutionContext } from "ava";
import path from "node:path";
import { fingerprint, writeInvite, type Role } from "../../src/keys/index.js";
import { tempDir } from "../helpers/cli.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { Blender, requireBlender } from "./blender-driver.js";

/** What each Blender reports of its scene, to compare them. */
const SUMMARY = `
def summary():
    scene = bpy.context.scene
    r = lambda v: [round(x, 4) for x in v]
    objects = {o.name: {"type": o.type, "location": r(o.location), "data": o.data.name if o.data else None,
                        "parent": o.parent.name if o.parent else None} for o in scene.objects}
    meshes = {m.name: {"vertices": len(m.vertices), "first": [r(v.co) for v in m.vertices[:64]], "edges": len(m.edges),
                       "faces": [list(p.vertices) for p in m.polygons], "smooth": [p.use_smooth for p in m.polygons],
                       "uv": m.uv_layers.keys(), "materials": [x.name for x in m.materials if x]} for m in bpy.data.meshes if m.users}
    materials = {m.name: r(m.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value)
                 for m in bpy.data.materials if m.users and m.node_tree and "Principled BSDF" in m.node_tree.nodes}
    return {"objects": objects, "meshes": meshes, "materials": materials, "camera": scene.camera.name if scene.camera else None,
            "frames": [scene.frame_start, scene.frame_end]}
`;

async function inviteFor(server: TestServer, dir: string, name: string, role: Role): Promise<string> {
  const keys = await server.allow(name, role);
  const file = path.join(dir, `${name}.invite`);
  await writeInvite(file, {
    name,
    role,
    server: { host: "127.0.0.1", port: server.config.port, publicKey: server.server.publicKey, fingerprint: fingerprint(server.server.publicKey) },
    client: keys,
  });
  return file;
}

/** A headless Blender killed when the test ends, with summary() defined. */
async function blender(t: ExecutionContext, label: string): Promise<Blender> {
  const instance = new Blender(label);
  t.teardown(() => instance.kill());
  await instance.run(`import curvehost_blender\n${SUMMARY}`);
  return instance;
}

const connect = (invite: string, share: boolean, timeout = 10) =>
  `s = curvehost_blender.connect(${JSON.stringify(invite)}, share=${share ? "True" : "False"}, timeout=${timeout})\nresult = s.state`;
const CUBE = "bpy.data.objects['Cube']";

test.serial("two artists share, lock, edit and delete in one scene; a third joins late", async (t) => {
  requireBlender();
  t.timeout(150_000);
  const server = await startServer(t);
  const dir = await tempDir(t);
  const [alice, bob] = await Promise.all([blender(t, "alice"), blender(t, "bob")]);

  t.is(await alice.run(connect(await inviteFor(server, dir, "alice", "admin"), true)), "open");
  t.is(await bob.run(connect(await inviteFor(server, dir, "bob", "member"), false)), "open");
  const shared = await alice.run("result = summary()");
  t.deepEqual(Object.keys(shared.objects).sort(), ["Camera", "Cube", "Light"]);
  t.deepEqual(await bob.run("result = summary()"), shared, "the member builds the same scene");

  // The cube is selected in the default scene: sharing it locked it for alice.
  await bob.until(`s.owner(${CUBE}) == 'alice' and s.owner(${CUBE}.data) == 'alice'`);
  await alice.run(`${CUBE}.location = (1, 2, 3)\n${CUBE}.data.vertices[0].co.x = 3`);
  await bob.until(`tuple(${CUBE}.location) == (1, 2, 3) and ${CUBE}.data.vertices[0].co.x == 3`);
  // In Edit Mode a mesh's edits live in Edit Mode's copy: they go when Edit Mode ends.
  await alice.run(
    "import bmesh\nbpy.ops.object.mode_set(mode='EDIT')\nmesh = bmesh.from_edit_mesh(" + CUBE + ".data)\n" +
      "mesh.verts.ensure_lookup_table(); mesh.verts[1].co.z = 5; bmesh.update_edit_mesh(" + CUBE + ".data)",
  );
  await alice.run("bpy.ops.object.mode_set(mode='OBJECT')");
  await bob.until(`${CUBE}.data.vertices[1].co.z == 5`);

  await bob.run(`${CUBE}.location.x = 9`);
  await bob.until(`${CUBE}.location.x == 1`, 10);
  t.true(await bob.run("result = any('held by alice' in m for m in s.messages)"), "bob is told why his edit was undone");
  // The add-on's panel and viewports are redrawn only when a tick says something shown may have changed.
  // What every tick of bob's (the driver's own ticks included) answered is recorded.
  await bob.run("ticks = []\nreal_tick = s.tick\ns.tick = lambda timeout=0.0: ticks.append(real_tick(timeout)) or ticks[-1]\nresult = True");
  await bob.until("len(ticks) >= 8 and not any(ticks[-8:])", 10); // ticks with nothing new ask no redraw
  await bob.run("ticks.clear()\nresult = True");
  await alice.run(`${CUBE}.location.y = 7`);
  await bob.until(`${CUBE}.location.y == 7`);
  t.true(await bob.run("result = any(ticks)\ndel s.tick"), "the tick that applied another artist's edit asked a redraw");

  await alice.run("bpy.context.scene.frame_current = 42");
  t.is(await bob.until("s.presence.get('alice', {}).get('frame') == 42 and s.presence['alice']['frame']"), 42);

  await alice.run(`${CUBE}.select_set(False)`);
  await bob.until(`s.owner(${CUBE}) == 'common'`);
  await bob.run(
    `${CUBE}.location.x = 5\n` +
      `bpy.data.materials['Material'].node_tree.nodes['Principled BSDF'].inputs['Base Color'].default_value = (0, 1, 0, 1)\n` +
      `bpy.data.objects.remove(bpy.data.objects['Light'])`,
  );
  await alice.until(
    `${CUBE}.location.x == 5 and 'Light' not in bpy.data.objects and ` +
      `tuple(bpy.data.materials['Material'].node_tree.nodes['Principled BSDF'].inputs['Base Color'].default_value) == (0, 1, 0, 1)`,
  );
  t.deepEqual(await alice.run("result = sorted(u['name'] for u in s.users)"), ["alice", "bob"]);

  // Renames keep every reference: the scene's camera, the cube's material.
  await alice.run("bpy.data.objects['Camera'].name = 'Shot cam'\nbpy.data.materials['Material'].name = 'Paint'");
  await bob.until(
    "bpy.context.scene.camera and bpy.context.scene.camera.name == 'Shot cam' and 'Camera' not in bpy.data.objects and " +
      `[m.name for m in ${CUBE}.data.materials] == ['Paint']`,
  );

  const carol = await blender(t, "carol");
  await carol.run(connect(await inviteFor(server, dir, "carol", "member"), false));
  const now = await alice.run("result = summary()");
  t.deepEqual(Object.keys(now.objects).sort(), ["Cube", "Shot cam"]);
  t.deepEqual(await carol.run("result = summary()"), now, "the late joiner builds the scene as it is now");
  t.deepEqual(await carol.run("result = list(s.messages)"), [], "nothing was undone or refused while carol built it");
});

test.serial("a member killed mid-session comes back; a dropped connection resyncs and sends what was edited offline", async (t) => {
  requireBlender();
  t.timeout(150_000);
  const server = await startServer(t, { pingIntervalMs: 200, timeoutMs: 1500 });
  const dir = await tempDir(t);
  const [alice, bob] = await Promise.all([blender(t, "alice"), blender(t, "bob")]);
  const bobInvite = await inviteFor(server, dir, "bob", "member");
  // bob is there first: his file empties, and the scene comes when alice shares it.
  await bob.run(connect(bobInvite, false, 1.5));
  t.deepEqual(await bob.run("result = [len(bpy.data.objects), list(s.messages)]"), [0, ["the session holds no scene yet: it comes when an admin shares one"]]);
  await alice.run(connect(await inviteFor(server, dir, "alice", "admin"), true));
  await alice.run(`${CUBE}.select_set(False)`);
  await bob.until(`len(bpy.data.objects) == 3 and s.owner(${CUBE}) == 'common'`);

  // Killed: a new Blender with the same invite takes bob's place and the scene as it is.
  await bob.kill();
  await alice.run(`${CUBE}.location.y = 7`);
  await alice.until(`s.owner(${CUBE}) == 'common'`);
  const again = await blender(t, "bob again");
  await again.run(connect(bobInvite, false, 1.5));
  t.is(await again.until(`${CUBE}.location.y == 7 and s.state`), "open");

  // A large mesh alice holds: a vertex moved travels as a delta part.
  await alice.run("bpy.ops.mesh.primitive_grid_add(x_subdivisions=200, y_subdivisions=200, location=(0, 0, -3))");
  await again.until(`'Grid' in bpy.data.objects and s.owner(bpy.data.objects['Grid'].data) == 'alice'`);
  await alice.run("bpy.data.objects['Grid'].data.vertices[10].co.z = 2");
  const GRID_PARTS = "len(s.client.replica.nodes[s.node_id(bpy.data.objects['Grid'].data)].parts)";
  t.is(await again.until(`bpy.data.objects['Grid'].data.vertices[10].co.z == 2 and ${GRID_PARTS}`), 2, "base and one delta");

  // Dropped: stopped past the server's timeout, bob is removed; alice edits meanwhile, so
  // does bob (offline), and on waking bob reconnects with its old replica and resyncs.
  again.child.kill("SIGSTOP");
  await alice.until("len(s.users) == 1", 15);
  await alice.run(`${CUBE}.location.z = 4\nbpy.data.objects['Camera'].data.lens = 35\nbpy.data.objects['Grid'].data.vertices[20].co.z = 5`);
  again.child.kill("SIGCONT");
  await again.run(`bpy.data.objects['Light'].location.x = -6`);
  await again.until(
    `s.status == 'connected' and s.client.lost is None and ${CUBE}.location.z == 4 and bpy.data.objects['Camera'].data.lens == 35 and ` +
      `bpy.data.objects['Grid'].data.vertices[20].co.z == 5`,
    20,
  );
  t.is(await again.run(`result = ${GRID_PARTS}`), 3, "the delta sent while bob was away came with the resync");
  await alice.until("bpy.data.objects['Light'].location.x == -6");
  t.deepEqual(await again.run("result = summary()"), await alice.run("result = summary()"));
});

// Locks and presence go without waiting (the client's wait=False): a refusal comes back through poll().
test.serial("selecting what another artist holds: the lock is refused once, the owner shown stays theirs, and it is taken when they let go", async (t) => {
  requireBlender();
  t.timeout(120_000);
  const server = await startServer(t);
  const dir = await tempDir(t);
  const [alice, bob] = await Promise.all([blender(t, "alice"), blender(t, "bob")]);
  await alice.run(connect(await inviteFor(server, dir, "alice", "admin"), true));
  await bob.run(connect(await inviteFor(server, dir, "bob", "member"), false));
  await bob.until(`s.owner(${CUBE}) == 'alice' and s.owner(${CUBE}.data) == 'alice'`);

  // Every lock bob's add-on asks is counted.
  await bob.run(
    "locks = []\nasked = s.client.lock\n" +
      "def counted(ids, **options):\n    locks.append(list(ids))\n    return asked(ids, **options)\n" +
      `s.client.lock = counted\nbpy.context.view_layer.objects.active = ${CUBE}\n${CUBE}.select_set(True)`,
  );
  await bob.until("any('Cube is held by alice' in m for m in s.messages)");
  t.is(await bob.run(`result = [s.owner(${CUBE}), s.owner(${CUBE}.data)]`).then((owners) => owners.join()), "alice,alice");
  // The refusal is not asked again while alice holds the cube: looks go on past the answer wait.
  await bob.run("mark = time.monotonic()");
  await bob.until("s.rights._looked[1] > mark + 2.5 and s.rights._looked[1]", 15);
  t.deepEqual(await bob.run("result = [len(locks), sum('held by alice' in m for m in s.messages)]"), [1, 1], "one lock asked, one report");
  // Bob's selection reaches alice as presence, without bob waiting for it.
  const cubeId = await bob.run(`result = s.node_id(${CUBE})`);
  await alice.until(`${JSON.stringify(cubeId)} in (s.presence.get('bob') or {}).get('selection', [])`);

  // Alice lets go: bob's selection takes the cube and its mesh, and both sides show it.
  await alice.run(`${CUBE}.select_set(False)`);
  await bob.until(`s.owner(${CUBE}) == 'bob' and s.owner(${CUBE}.data) == 'bob'`);
  await alice.until(`s.owner(${CUBE}) == 'bob'`);
  t.is(await bob.run("result = len(locks)"), 2);
  await bob.run(`${CUBE}.location.x = 4`);
  await alice.until(`${CUBE}.location.x == 4`);
});
