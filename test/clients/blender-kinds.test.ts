/**
 * The add-on's node layout inside one headless Blender, no server: every shared
 * kind survives encode → bytes → apply into an emptied file (references resolved
 * whatever order the nodes come in), a mesh delta patches a mesh to its source,
 * and bytes another user might send are refused with a sentence, never applied
 * and never a crash.
 */
import test from "ava";
import { fileURLToPath } from "node:url";
import { runToEnd } from "../helpers/run.js";
import { BLENDER, requireBlender } from "./blender-driver.js";

const ADDON = fileURLToPath(new URL("../../../clients/blender", import.meta.url));
const CHECK = `${ADDON}/tools/check_kinds.py`;

test("every shared kind round-trips through its bytes, and hostile bytes are refused", async (t) => {
  requireBlender();
  // Debian's python3 first on PATH, as blender-driver.ts explains.
  const run = await runToEnd("env", [`PATH=/usr/bin:${process.env.PATH ?? ""}`, BLENDER, "-b", "--factory-startup", "--python", CHECK, "--", ADDON], { what: "blender check_kinds.py", timeoutMs: 60_000 });
  const line = run.stdout.split("\n").find((l) => l.startsWith("@@ "));
  t.truthy(line, `no result from Blender: ${run.stderr.slice(-3000)}`);
  const result = JSON.parse(line!.slice(3));
  const rebuilt = result.roundtrip;
  t.deepEqual(rebuilt.objects, [
    ["Ball", "MESH", null],
    ["Box", "MESH", null],
    ["Camera", "CAMERA", null],
    ["Handle", "EMPTY", "Box"],
    ["Light", "LIGHT", null],
    ["Title", "FONT", null],
  ]);
  t.deepEqual(rebuilt.props, ["Ball"]);
  t.deepEqual(rebuilt.box, { vertex0: [1.5, 1, 1], faces: 6, smooth: [true, false], uv: ["UVMap"], materials: ["Material", "Second"] });
  t.deepEqual(rebuilt.texture, { image: "painted", interpolation: "Closest", linked: true });
  rebuilt.painted.forEach((value: number, i: number) => t.true(Math.abs(value - i / 32) <= 1 / 255, `pixel ${i}: ${value}`));
  t.deepEqual(rebuilt["on disk"], [4, 2]);
  t.deepEqual(rebuilt.colorspace, { painted: "sRGB", "on disk": "Non-Color", baked: "Non-Color" }, "a normal map stays Non-Color");
  t.deepEqual(rebuilt.baked, [0, 0.0312, 0.0625, 0.0938, 0.125, 0.1562, 0.1875, 0.2188], "float pixels arrive as they were, not converted");
  t.deepEqual(rebuilt.text, ["hello curvehost", 0.1]);
  t.deepEqual(rebuilt.light, ["SPOT", 0.5]);
  t.is(rebuilt.lens, 85);
  t.is(rebuilt.camera, "Camera");
  t.is(rebuilt.frame_end, 120);
  t.is(rebuilt.handle, "CUBE");
  t.deepEqual(result.unshared, ["BezierCurve"], "an object of a type not shared yet is named, not sent");
  t.deepEqual(result.reports, [], "nothing was reported while rebuilding");

  const delta = result.delta;
  t.true(delta.same, "a mesh patched by a delta equals its source");
  t.true(delta.size[0] < delta.size[1] / 4, `a delta of two moved vertices is small: ${delta.size[0]} of ${delta.size[1]} bytes`);
  t.is(delta.vertex400[0], 7);
  t.is(delta["no change"], null, "no delta when nothing changed");
  t.regex(delta.outside, /outside the vertices/);

  for (const [what, refusal] of Object.entries(result.refused as Record<string, string | null>))
    t.true(typeof refusal === "string" && refusal.length > 0, `${what} was applied`);
  t.regex(result.refused["a corner's vertex out of range"], /index out of range/);
  t.regex(result.refused["counts larger than the arrays"], /should hold/);
  t.is(result.skipped.length, 2, "an unreadable node and an unknown kind are reported and skipped");
  t.regex(result.skipped.join("\n"), /Mesh Mesh\/bad .*skipped/);
  t.regex(result.skipped.join("\n"), /kind Armature is not one this add-on knows; skipped/);
});
