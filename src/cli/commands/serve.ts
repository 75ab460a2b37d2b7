import path from "node:path";
import type { CommandModule } from "yargs";
import { KeyStore, checkBasePort, fingerprint } from "../../keys/index.js";
import { DEFAULTS, MAX_SUBSCRIBER_IO_THREADS, PORTS, type ServerConfig } from "../../server/config.js";
import type { FsyncMode } from "../../server/journal/index.js";
import { limitsFor } from "../../protocol/index.js";
import { createLogger } from "../../server/log.js";
import { Server } from "../../server/server.js";
import { OptionError, UsageError } from "../errors.js";
import { keysOption, portOption } from "../options.js";
import { shortPath } from "../print.js";
import { initStore } from "./init.js";

interface Args {
  keys: string;
  port: number;
  bind: string;
  /** false after --no-state (yargs reads --no-X as X = false). */
  state: string | false;
  /** undefined when not given: "batch" then, and --no-state may refuse it. */
  fsync: FsyncMode | undefined;
  repair: boolean;
  session: string;
  timeout: number;
  "ping-interval": number;
  "max-node-size": number;
  "kick-ban": number;
  "max-users": number;
  "handshake-interval": number;
  "io-threads": number;
  open: boolean;
  pretty: boolean;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${name} must be a whole number, 0 or more.`);
  return value;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--${name} must be a whole number above 0.`);
  return value;
}

/** `value` if it is a whole number from 1 to `max`; otherwise a UsageError that says so. */
function upTo(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}.`);
  return value;
}

function toConfig(args: Args): ServerConfig {
  const port = checkBasePort(args.port); // the same check, and sentence, as init's and invite's
  const timeoutMs = positive("timeout", args.timeout);
  const pingIntervalMs = positive("ping-interval", args["ping-interval"]);
  if (pingIntervalMs >= timeoutMs) throw new UsageError("--ping-interval must be shorter than --timeout.");
  return {
    keys: args.keys,
    bind: args.bind,
    port,
    session: args.session,
    pingIntervalMs,
    timeoutMs,
    limits: limitsFor(positive("max-node-size", args["max-node-size"])),
    maxUsers: positive("max-users", args["max-users"]),
    handshakeIntervalMs: positive("handshake-interval", args["handshake-interval"]),
    ioThreads: upTo("io-threads", args["io-threads"], MAX_SUBSCRIBER_IO_THREADS),
    historyBytes: DEFAULTS.historyBytes,
    usersEventIntervalMs: DEFAULTS.usersEventIntervalMs,
    kickBanMs: nonNegative("kick-ban", args["kick-ban"]) * 1000,
    initialState: args.open ? "open" : "waiting",
    state: args.state === false ? null : { dir: path.resolve(args.state), fsync: args.fsync ?? "batch", repair: args.repair },
  };
}

/** Options that cannot go together; the single values are checked by toConfig. */
function conflicts(args: Args): true {
  if (args.state === false && args.repair) throw new OptionError("--repair has no journal to repair with --no-state; give one of them.");
  if (args.state === false && args.fsync !== undefined)
    throw new OptionError("--fsync has no journal to flush with --no-state; give one of them.");
  if (args.state !== false) {
    const [state, keys] = [path.resolve(args.state), path.resolve(args.keys)];
    const within = (inner: string, outer: string) => {
      const relative = path.relative(outer, inner);
      return relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
    };
    if (within(state, keys) || within(keys, state))
      throw new OptionError(`--state ${args.state} and --keys ${args.keys} overlap; give the journal and the key store a directory each.`);
  }
  return true;
}

function banner(config: ServerConfig, publicKey: string): string {
  const keys = shortPath(path.resolve(config.keys));
  return [
    `curvehost serves session "${config.session}" on ${config.bind}, every port CURVE-encrypted.`,
    "Forward these TCP ports to this machine:",
    ...PORTS.map((name, i) => `  ${config.port + i}  ${name}`),
    `Server key: ${publicKey}`,
    `Fingerprint: ${fingerprint(publicKey)}`,
    `Invite a collaborator: curvehost invite NAME --host YOUR.PUBLIC.ADDRESS --keys ${keys}${config.port === DEFAULTS.port ? "" : ` --port ${config.port}`}`,
    config.state ? `Journal: ${shortPath(config.state.dir)} (fsync ${config.state.fsync})` : "No journal (--no-state): the session ends with the server.",
    "",
  ].join("\n");
}

export const serveCommand: CommandModule<object, Args> = {
  command: "serve",
  describe: "run the server; creates the key store on first run",
  builder: (yargs) =>
    yargs
      .option("keys", keysOption)
      .option("port", portOption)
      .option("bind", { type: "string", default: DEFAULTS.bind, describe: "the address to listen on" })
      .option("state", { type: "string", default: "state", describe: "the journal directory; --no-state keeps none (an ephemeral session)" })
      .option("fsync", { choices: ["always", "batch", "never"] as const, defaultDescription: "batch", describe: "when the journal is flushed to disk (see README)" })
      .option("repair", { type: "boolean", default: false, describe: "start even if the journal is corrupt in the middle, keeping what precedes the damage" })
      .option("session", { type: "string", default: DEFAULTS.session, describe: "the session's name, shown to clients" })
      .option("timeout", { type: "number", default: DEFAULTS.timeoutMs, describe: "ms without a pong before a user is lost" })
      .option("ping-interval", { type: "number", default: DEFAULTS.pingIntervalMs, describe: "ms between pings" })
      .option("max-node-size", { type: "number", default: DEFAULTS.limits.node, describe: "the most bytes one node's data may hold (a commit larger than a frame comes in pieces)" })
      .option("kick-ban", { type: "number", default: DEFAULTS.kickBanMs / 1000, describe: "seconds a kicked user's key is refused (0: none), unless the host allows it anew" })
      .option("max-users", { type: "number", default: DEFAULTS.maxUsers, describe: "users joined at once" })
      .option("handshake-interval", { type: "number", default: DEFAULTS.handshakeIntervalMs, describe: "ms a peer has to complete its CURVE handshake" })
      .option("io-threads", { type: "number", default: DEFAULTS.ioThreads, describe: "libzmq I/O threads that encrypt the fan-out to subscribers, plus one for the other ports (default: one per core, up to 4)" })
      .option("open", { type: "boolean", default: false, describe: "start with the session open (otherwise an admin opens it)" })
      .option("pretty", { type: "boolean", default: false, describe: "readable logs instead of JSON" })
      .check(conflicts),
  handler: async (args) => {
    const config = toConfig(args);
    const store = new KeyStore(config.keys);
    if (!(await store.exists())) await initStore({ keys: config.keys, admin: "host", host: "127.0.0.1", port: config.port });
    const log = createLogger({ pretty: args.pretty });
    const server = await Server.start(config, log, { onFatal: () => process.exit(1) });
    // stop() is idempotent: a Ctrl-C reaches both this process and a relaunching parent, which passes it on.
    const stop = () => {
      void server.stop().then(() => process.exit(0));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // Started by main.ts to apply the server's node flags (relaunch.ts): stop when that parent is gone, however it went.
    if (process.channel) process.once("disconnect", stop);
    // Only now: whoever waits for the banner may signal at once.
    process.stderr.write(banner(config, server.publicKey));
    await server.whenStopped();
  },
};
