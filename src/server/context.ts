/** What the port handlers share: the session, who is joined, and the ways out. */
import type { Logger } from "pino";
import type { Allowlist } from "../keys/index.js";
import type { Broadcaster } from "./broadcast.js";
import type { ServerConfig } from "./config.js";
import type { Outbox } from "./outbox.js";
import type { Session } from "./session.js";
import type { User, Users } from "./users.js";

export type RemovalReason = "left" | "kicked" | "lost" | "revoked" | "expired" | "replaced" | "stalled";

export interface ServerContext {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly session: Session;
  readonly users: Users;
  readonly broadcaster: Broadcaster;
  readonly outboxes: { command: Outbox; publisher: Outbox; ttl: Outbox };
  readonly serverKeys: { publicKey: string; secretKey: string };
  allowlist(): Allowlist;
  /** The address the key's last command-port handshake came from; for logs only. */
  peerAddress(publicKey: string): string;
  /** Ends a user's session (PROTOCOL.md §8): locks released, users published, subscriber cut. */
  remove(user: User, reason: RemovalReason): void;
  /** Notes that a key joined now, for `curvehost keys` (written to the store in batches). */
  markSeen(fingerprint: string): void;
  /** Publishes the user list as a `users` event: at once, or with the other changes of its interval (config.usersEventIntervalMs). */
  publishUsers(): void;
}
