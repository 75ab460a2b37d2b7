/** What the port handlers share: the session, who is joined, the ways out, admission and departures. */
import type { Logger } from "pino";
import type { Admission } from "./admission.js";
import type { Broadcaster } from "./broadcast.js";
import type { ServerConfig } from "./config.js";
import type { Departures } from "./departures.js";
import type { Outbox } from "./outbox.js";
import type { Session } from "./session.js";
import type { Users } from "./users.js";

export interface ServerContext {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly session: Session;
  readonly users: Users;
  readonly broadcaster: Broadcaster;
  readonly outboxes: { command: Outbox; publisher: Outbox; ttl: Outbox };
  readonly serverKeys: { publicKey: string; secretKey: string };
  readonly admission: Admission;
  readonly departures: Departures;
  /** Publishes the user list as a `users` event: at once, or with the other changes of its interval (config.usersEventIntervalMs). */
  publishUsers(): void;
}
