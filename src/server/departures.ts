/**
 * Users leaving (PROTOCOL.md §8): a removal releases the user's locks, tells the
 * others, and cuts the user's subscriber connection before anything further is
 * published. libzmq cannot disconnect one subscriber, so the PUB socket is
 * replaced. Also the locks of users who do not come back after a restart.
 */
import * as zmq from "zeromq";
import type { Logger } from "pino";
import type { Broadcaster } from "./broadcast.js";
import { endpoint, type ServerConfig } from "./config.js";
import type { RemovalReason } from "./context.js";
import { COMMON } from "./nodes.js";
import type { Outbox } from "./outbox.js";
import type { Session } from "./session.js";
import { assertSocketSecure, createSubscriberSocket } from "./sockets.js";
import type { User, Users } from "./users.js";

/** libzmq releases the port in its I/O thread after unbind; on a loaded machine that can take a while. */
const REBIND_LIMIT_MS = 10_000;

export interface DepartureDeps {
  config: ServerConfig;
  context: zmq.Context;
  secretKey: string;
  log: Logger;
  session: Session;
  users: Users;
  broadcaster: Broadcaster;
  outboxes: Outbox[];
  /** The live subscriber socket and its replacement. */
  subscriber: { get(): zmq.Publisher; set(socket: zmq.Publisher): void };
  publishUsers(): void;
  onRemoved(name: string, reason: RemovalReason): void;
  onFatal(error: Error): void;
}

export class Departures {
  private cycling: Promise<void> | null = null;
  private cycleAgain = false;
  /** Resolves when the next replacement of the subscriber socket is bound. */
  private nextCycle: { done: Promise<void>; resolve: () => void } | null = null;
  private releaseTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly deps: DepartureDeps) {}

  /** Ends a user's session: locks released, users published, subscriber cut. A second call for the same user does nothing. */
  remove(user: User, reason: RemovalReason): void {
    const { users, session, broadcaster, log } = this.deps;
    if (users.byRoutingId(user.routingId) !== user) return;
    users.remove(user);
    for (const outbox of this.deps.outboxes) outbox.forget(user.routingId);
    // First cut the subscriber connections, so that not even the news of the removal reaches the user.
    this.cycleSubscriber();
    const release = session.planRelease(user.name);
    if (release) broadcaster.publish(release);
    this.deps.publishUsers();
    log.info({ event: "departure", user: user.name, fingerprint: user.fingerprint, reason }, "user removed");
    this.deps.onRemoved(user.name, reason);
  }

  /** After a restart: nodes of users who have not rejoined within the timeout go back to common. */
  releaseAbsentOwners(): void {
    const { session, users, broadcaster, config } = this.deps;
    if (session.nodes.size === 0) return;
    this.releaseTimer = setTimeout(() => {
      const owners = new Set<string>();
      for (const node of session.nodes.all()) if (node.owner !== COMMON && !users.byName(node.owner)) owners.add(node.owner);
      for (const owner of owners) {
        const release = session.planRelease(owner);
        if (release) broadcaster.publish(release);
      }
    }, config.timeoutMs);
    this.releaseTimer.unref();
  }

  /** Resolves once no replacement of the subscriber socket is under way; none starts after. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.releaseTimer);
    await this.cycling;
  }

  /**
   * libzmq cannot disconnect one subscriber, and its unbind closes accepted
   * connections only later, in its I/O thread, with no event to wait on. So the
   * subscriber socket is replaced: closing the old one takes every connection
   * with it, ZAP refuses the removed user on the new one, and the others
   * reconnect by themselves and resync. Publications wait until the new socket
   * is bound, so none can reach an old connection.
   */
  private cycleSubscriber(): void {
    if (this.stopping) return;
    const { broadcaster, config, subscriber } = this.deps;
    if (!this.nextCycle) {
      let resolve = () => {};
      const done = new Promise<void>((r) => (resolve = r));
      this.nextCycle = { done, resolve };
      broadcaster.holdUntil(done);
    }
    if (this.cycling) {
      this.cycleAgain = true;
      return;
    }
    const address = endpoint(config.bind, config.port + 1);
    this.cycling = (async () => {
      do {
        this.cycleAgain = false;
        const held = this.nextCycle;
        this.nextCycle = null;
        try {
          const fresh = createSubscriberSocket(this.deps.context, config, this.deps.secretKey);
          assertSocketSecure(fresh, "subscriber");
          subscriber.get().close();
          subscriber.set(fresh);
          await rebind(fresh, address);
          broadcaster.useSocket(fresh);
        } finally {
          held?.resolve();
        }
      } while (this.cycleAgain && !this.stopping);
    })()
      .catch((error: Error) => {
        if (!this.stopping) this.deps.onFatal(new Error(`cannot re-open the subscriber port: ${error.message}`));
      })
      .finally(() => {
        this.cycling = null;
        this.nextCycle?.resolve();
        this.nextCycle = null;
      });
  }
}

async function rebind(socket: zmq.Publisher, address: string): Promise<void> {
  const deadline = Date.now() + REBIND_LIMIT_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await socket.bind(address);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
