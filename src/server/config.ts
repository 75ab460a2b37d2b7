/** What a server is started with; the CLI's `serve` options map onto this one to one. */
import os from "node:os";
import { DEFAULT_LIMITS, type Limits } from "../protocol/index.js";
import type { FsyncMode } from "./journal/index.js";

export interface ServerConfig {
  /** The key store directory. */
  keys: string;
  bind: string;
  /** The base port P: command P, subscriber P+1, publisher P+2, ttl P+3. */
  port: number;
  session: string;
  pingIntervalMs: number;
  /** A user silent on the ttl port for this long is lost; also the stall limit for a client that does not drain. */
  timeoutMs: number;
  /** What the server takes and advertises (PROTOCOL.md §9); `frame` also bounds libzmq's maximum message size. */
  limits: Limits;
  maxUsers: number;
  /** How long a peer may take to complete its CURVE handshake. */
  handshakeIntervalMs: number;
  /** libzmq I/O threads for the subscriber port, which encrypt every published event once per subscriber; one more serves the other ports. */
  ioThreads: number;
  /** Bytes of recent events kept for `resync`. */
  historyBytes: number;
  /** The least time between two `users` events: the joins and departures in between share the next one. */
  usersEventIntervalMs: number;
  /** How long a kicked user's key is refused, unless the host allows it again. */
  kickBanMs: number;
  initialState: "waiting" | "open";
  /** Where the journal lives, or null for an ephemeral session. */
  state: { dir: string; fsync: FsyncMode; repair: boolean } | null;
}

/** The most I/O threads the subscriber port uses (ioThreadAffinity): its affinity mask stays a small exact number. */
export const MAX_SUBSCRIBER_IO_THREADS = 32;

export const DEFAULTS = {
  bind: "0.0.0.0",
  port: 5555,
  session: "curvehost",
  pingIntervalMs: 1000,
  timeoutMs: 5000,
  limits: DEFAULT_LIMITS,
  maxUsers: 64,
  handshakeIntervalMs: 5000,
  // One per core, up to four: with one, a single core encrypts every subscriber's copy of every event.
  ioThreads: Math.min(4, os.availableParallelism()),
  historyBytes: 64 * 1024 * 1024,
  // Each users event carries the whole list to every subscriber: one per join made a burst of N joins cost N³ entries.
  usersEventIntervalMs: 100,
  kickBanMs: 10 * 60 * 1000,
  initialState: "waiting",
} as const satisfies Partial<ServerConfig>;

export { PORTS, type PortName } from "../protocol/index.js";

export function endpoint(bind: string, port: number): string {
  return bind.includes(":") ? `tcp://[${bind}]:${port}` : `tcp://${bind}:${port}`;
}
