/**
 * Users leaving (PROTOCOL.md §8), and what their connections cost. A removal
 * releases the user's locks and tells the others. libzmq cannot close one peer's
 * connection, so connections are cut by replacing sockets (sockets.ts): a user
 * removed for cause (revoked, expired, kicked, expelled) loses every connection
 * on every port before anything further is published; a user who leaves or is
 * lost loses its subscriber connection, every cut sharing one replacement per
 * interval, since each one makes every subscriber reconnect and resync.
 * Also the locks of users who do not come back after a restart.
 */
import type { Logger } from "pino";
import type { Broadcaster } from "./broadcast.js";
import type { ServerConfig } from "./config.js";
import { COMMON } from "./nodes.js";
import type { Outbox } from "./outbox.js";
import type { Session } from "./session.js";
import { PORTS, toFrames, type PortName } from "../protocol/index.js";
import type { ServerSockets } from "./sockets.js";
import { SlidingWindow } from "./sliding-window.js";
import { Throttle } from "./throttle.js";
import type { User, Users, RemovalReason } from "./users.js";

/** Removals that cut every connection of the user at once. */
const FOR_CAUSE: ReadonlySet<RemovalReason> = new Set(["revoked", "expired", "kicked", "expelled"]);
/** Subscriber cuts for other departures are at most one per this interval. */
export const CUT_INTERVAL_MS = 5000;
/** A key that opens a second subscriber connection this often is expelled: no honest client does. */
const DUPLICATES_ALLOWED = 3;
const DUPLICATE_WINDOW_MS = 10 * 60 * 1000;

export interface DepartureDeps {
  config: ServerConfig;
  log: Logger;
  session: Session;
  users: Users;
  broadcaster: Broadcaster;
  outboxes: { command: Outbox; publisher: Outbox; ttl: Outbox };
  sockets: ServerSockets;
  publishUsers(): void;
  /** Bans a user's key for the kick ban. */
  ban(user: User): void;
  /** The subscriber socket is about to be replaced. */
  onSubscriberCut(): void;
  onRemoved(name: string, reason: RemovalReason): void;
  onFatal(error: Error): void;
}

export class Departures {
  private cutting: Promise<void> | null = null;
  /** Ports to cut once the cut under way is done. */
  private readonly pending = new Set<PortName>();
  /** Lets go the publications held (Broadcaster.hold) until the next replacement of the subscriber socket is bound. */
  private releasePublications: (() => void) | null = null;
  private readonly subscriberCuts: Throttle;
  /** Each key's second subscriber handshakes in the last DUPLICATE_WINDOW_MS. */
  private readonly duplicates = new SlidingWindow(DUPLICATE_WINDOW_MS);
  private releaseTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly deps: DepartureDeps) {
    this.subscriberCuts = new Throttle(() => this.cut(["subscriber"]), CUT_INTERVAL_MS);
  }

  /** Ends a user's session: locks released, users published, connections cut. A second call for the same user does nothing. */
  remove(user: User, reason: RemovalReason): void {
    const { users, session, broadcaster, log } = this.deps;
    if (users.byRoutingId(user.routingId) !== user) return;
    users.remove(user);
    for (const outbox of Object.values(this.deps.outboxes)) outbox.forget(user.routingId);
    // First the cut, so that a user removed for cause does not even get the news of its removal.
    // A key that joined anew (replaced) keeps its connections: they are its own.
    if (FOR_CAUSE.has(reason)) this.cut(PORTS);
    else if (reason !== "replaced") this.subscriberCuts.request();
    const release = session.planRelease(user.name);
    if (release) broadcaster.publish(release);
    this.deps.publishUsers();
    log.info({ event: "departure", user: user.name, fingerprint: user.fingerprint, reason }, "user removed");
    this.deps.onRemoved(user.name, reason);
  }

  /**
   * Removes a user for cause with a `kicked` notice (PROTOCOL.md §8): by an admin
   * (`by` is the admin's name: kicked), or by the server for doing what no honest
   * client does (`by` is "curvehost": expelled, `why` says what). The notice goes
   * first: the removal cuts the user's connections, and the socket it is on lets
   * it out as it closes. The key is then refused for the kick ban.
   */
  kick(user: User, by: string, why?: string): void {
    const reason: RemovalReason = why === undefined ? "kicked" : "expelled";
    if (why !== undefined) this.deps.log.warn({ event: "expelled", user: user.name, fingerprint: user.fingerprint, reason: why }, "user expelled");
    const notice = toFrames({ type: "kicked", by }, [], this.deps.config.limits.frame);
    this.deps.outboxes.command.send(user.routingId, notice, notice[0]!.length);
    this.deps.ban(user);
    this.remove(user, reason);
  }

  /**
   * A joined key completed a second subscriber handshake: one user, one
   * subscriber connection. The subscriber port is cut (sharing the interval's
   * cut) so that one reconnects; a key that keeps doing it is expelled.
   */
  duplicateSubscriber(user: User): void {
    if (this.duplicates.add(user.publicKey) > DUPLICATES_ALLOWED) this.kick(user, "curvehost", "it keeps opening subscriber connections");
    else this.subscriberCuts.request();
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

  /** Resolves once no cut is under way; none starts after. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.subscriberCuts.close();
    clearTimeout(this.releaseTimer);
    await this.cutting;
  }

  /**
   * Replaces the sockets of these ports, closing every connection on them.
   * While the subscriber port is being replaced, publications wait, so none can
   * reach an old connection. Cuts asked for while one is under way follow it.
   */
  private cut(ports: readonly PortName[]): void {
    if (this.stopping) return;
    for (const port of ports) this.pending.add(port);
    if (ports.includes("subscriber") && !this.releasePublications) this.releasePublications = this.deps.broadcaster.hold();
    if (this.cutting) return;
    this.cutting = (async () => {
      while (this.pending.size > 0 && !this.stopping) {
        const names = [...this.pending];
        this.pending.clear();
        const release = names.includes("subscriber") ? this.releasePublications : null;
        if (release) this.releasePublications = null;
        if (names.includes("subscriber")) this.deps.onSubscriberCut();
        try {
          await this.deps.sockets.replace(names);
        } finally {
          release?.();
        }
      }
    })()
      .catch((error: Error) => {
        if (!this.stopping) this.deps.onFatal(new Error(`cannot re-open a port after cutting its connections: ${error.message}`));
      })
      .finally(() => {
        this.cutting = null;
        this.releasePublications?.();
        this.releasePublications = null;
      });
  }
}
