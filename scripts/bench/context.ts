/** What every suite is given: the run's settings and keys, and a way to start the server under test. */
import type { KeyPair } from "../../src/keys/index.js";
import { startCurvehost, startRelay, type Mode, type ServerProcess } from "./processes.js";

export interface BenchContext {
  quick: boolean;
  /** How many times fan-out, latency and handshake rows measure each side, interleaved (repeat.ts). */
  repeat: number;
  /** A scratch directory, removed at the end. */
  tmpDir: string;
  keysDir: string;
  serverPublicKey: string;
  serverSecretKey: string;
  /** Allowed users: users[0] is the admin the writers use, the rest are members (receivers, joiners). */
  users: KeyPair[];
  /** Allowed keys for the handshake burst; empty when that suite does not run. */
  burst: KeyPair[];
  /** Where curvehost servers write their CPU profiles (--profile). */
  profileDir: string | undefined;
  /**
   * Another build of curvehost (its dist/src/cli/main.js) to measure in the relay's place
   * (--baseline-build): before and after a change, in one run, driven by the same clients.
   */
  baselineCli?: string | undefined;
}

/** curvehost (`serve` with --no-state unless `serveArgs` say otherwise) or the baseline (the relay, or --baseline-build), on fresh ports. */
export function startServer(ctx: BenchContext, mode: Mode, label: string, serveArgs?: string[]): Promise<ServerProcess> {
  if (mode === "baseline" && !ctx.baselineCli) return startRelay(ctx.serverSecretKey);
  const cli = mode === "baseline" ? { cli: ctx.baselineCli, label: `baseline-${label}` } : { label };
  return startCurvehost({ keysDir: ctx.keysDir, profileDir: ctx.profileDir, ...cli, ...(serveArgs ? { serveArgs } : {}) });
}

/** How a side's clients speak: the relay's bare sockets, or curvehost's protocol (curvehost, and a --baseline-build). */
export function clientMode(ctx: BenchContext, mode: Mode): Mode {
  return mode === "baseline" && ctx.baselineCli ? "curvehost" : mode;
}
