#!/usr/bin/env node
/**
 * The `curvehost` binary. `serve` without the server's node flags runs itself
 * again with them (relaunch.ts), before loading anything else, so that the
 * process left waiting on the server stays small; the rest is cli.ts.
 */
import { hasServerNodeFlags, relaunchWithServerNodeFlags } from "./relaunch.js";

if (process.argv[2] === "serve" && !hasServerNodeFlags()) process.exitCode = await relaunchWithServerNodeFlags();
else await import("./cli.js");
