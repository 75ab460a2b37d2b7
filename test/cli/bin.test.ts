/**
 * The built binary runs as a command on its own, as `npx curvehost` and an
 * installed package run it (the README's `npx curvehost check …`): its shebang
 * and its execute bit, which the compiler does not set.
 */
import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CLI } from "../helpers/cli.js";

test("the curvehost binary runs directly, without naming node", async (t) => {
  const { stdout } = await promisify(execFile)(CLI, ["--help"], { timeout: 20_000 });
  t.regex(stdout, /curvehost <command>/);
});
