/**
 * `npm run addon`: the zip installs into a Blender as a user would install it
 * (Preferences > Add-ons > Install), enables, registers its panel, and finds the
 * Python client package inside it.
 */
import test from "ava";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/cli.js";
import { PYTHON } from "../helpers/python.js";
import { runToEnd } from "../helpers/run.js";
import { BLENDER, requireBlender } from "./blender-driver.js";

const BUILD = fileURLToPath(new URL("../../../scripts/addon/build_zip.py", import.meta.url));

test("the add-on zip installs, enables and carries the Python client", async (t) => {
  requireBlender();
  const dir = await tempDir(t);
  const zip = path.join(dir, "curvehost_blender.zip");
  const built = await runToEnd(PYTHON, [BUILD, zip], { what: "scripts/addon/build_zip.py", timeoutMs: 30_000 });
  t.is(built.code, 0, built.stderr);
  const check = [
    "import bpy",
    `bpy.ops.preferences.addon_install(filepath=${JSON.stringify(zip)})`,
    "bpy.ops.preferences.addon_enable(module='curvehost_blender')",
    "import curvehost_blender.dependencies as dependencies",
    "client = dependencies.curvehost()",
    "print('@@', client.__file__, hasattr(bpy.types, 'CURVEHOST_PT_session'))",
  ].join("\n");
  // A user scripts folder of its own, so that the install touches nothing outside the test.
  const run = await runToEnd(
    "env",
    [`BLENDER_USER_SCRIPTS=${path.join(dir, "scripts")}`, `PATH=/usr/bin:${process.env.PATH ?? ""}`, BLENDER, "-b", "--factory-startup", "--python-expr", check],
    { what: "blender installing the zip", timeoutMs: 60_000 },
  );
  const line = run.stdout.split("\n").find((l) => l.startsWith("@@ "));
  t.truthy(line, run.stderr.slice(-3000));
  t.is(line, `@@ ${path.join(dir, "scripts", "addons", "curvehost_blender", "vendor", "curvehost", "__init__.py")} True`);
});
