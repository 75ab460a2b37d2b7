/**
 * The curvehost server: wires the key store, the ZAP handler, the four CURVE
 * sockets, the session and the journal together, and owns their lifecycle.
 */
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import type { Logger } from "pino";
import { AllowlistWatcher, KeyStore, fingerprint, type Allowlist } from "../keys/index.js";
import { encode } from "../protocol/index.js";
import { Broadcaster } from "./broadcast.js";
import { CommandHandler } from "./commands.js";
import { handleCommit } from "./commits.js";
import { PORTS, endpoint, type PortName, type ServerConfig } from "./config.js";
import type { RemovalReason, ServerContext } from "./context.js";
import { History } from "./history.js";
import { Outbox } from "./outbox.js";
import {
  StartupError,
  assertCurveAvailable,
  assertSecure,
  assertSocketSecure,
  bindSockets,
  closeSockets,
  createSockets,
  createSubscriberSocket,
  type ServerSockets,
} from "./sockets.js";
import { Session } from "./session.js";
import { openState, type StateStore } from "./state.js";
import { receiveEach } from "../transport/receive.js";
import { Throttle } from "./throttle.js";
import { Pinger } from "./ttl.js";
import { Users, type User } from "./users.js";
import { ZapHandler, type ZapRequest, type ZapVerdict } from "./zap.js";

export interface StartOptions {
  /** Called after the server stopped itself on a fatal error (its ZAP handler died, the journal failed). */
  onFatal?: (error: Error) => void;
  /** The ZeroMQ context for the server's sockets and its ZAP handler; by default a new one with `config.ioThreads` + 1 I/O threads (ioThreadAffinity). */
  context?: zmq.Context;
}

/** What a server tells an embedding program (and the tests) as it happens. */
export interface ServerEvents {
  allowlist: [];
  departure: [name: string, reason: RemovalReason];
  /** Something in the key store the host must fix (also logged). */
  warning: [message: string];
}

export class Server extends EventEmitter<ServerEvents> {
  private readonly users = new Users();
  private readonly zapAddresses = new Map<string, string>();
  private store: KeyStore | undefined;
  private zap: ZapHandler | undefined;
  private sockets: ServerSockets | undefined;
  private watcher: AllowlistWatcher | undefined;
  private pinger: Pinger | undefined;
  private usersEvents: Throttle | undefined;
  private state: StateStore | undefined;
  private allowlist: Allowlist | undefined;
  private serverContext: ServerContext | undefined;
  private cycling: Promise<void> | null = null;
  private cycleAgain = false;
  /** Resolves when the next replacement of the subscriber socket is bound. */
  private nextCycle: { done: Promise<void>; resolve: () => void } | null = null;
  private stopping = false;
  private fatalHandler: (error: Error) => void = () => {};
  private readonly stopped: Promise<void>;
  private markStopped: () => void = () => {};

  private constructor(
    readonly config: ServerConfig,
    private readonly log: Logger,
    private readonly context: zmq.Context,
  ) {
    super();
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
  }

  /** Starts a server, or throws a StartupError (or KeyStoreError) that says why it will not run. */
  static async start(config: ServerConfig, log: Logger, options: StartOptions = {}): Promise<Server> {
    const server = new Server(config, log, options.context ?? new zmq.Context({ ioThreads: config.ioThreads + 1 }));
    if (options.onFatal) server.fatalHandler = options.onFatal;
    try {
      await server.open();
    } catch (error) {
      await server.release();
      throw error;
    }
    return server;
  }

  /** The server's public key, for printing and for tests. */
  get publicKey(): string {
    return this.serverContext!.serverKeys.publicKey;
  }

  get seq(): number {
    return this.serverContext!.session.seq;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** One of the four sockets, for reading its options back (tests, diagnostics). */
  socketFor(name: PortName): zmq.Socket {
    return this.sockets![name];
  }

  /** Whether the live allowlist admits this key now. */
  allows(publicKey: string): boolean {
    return this.allowlist?.status(publicKey).state === "allowed";
  }

  /** Resolves when the server has stopped, by stop() or a fatal error. */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  private async open(): Promise<void> {
    const { config, log } = this;
    assertCurveAvailable(zmq.capability);
    const store = new KeyStore(config.keys);
    this.store = store;
    const serverKeys = await store.serverKeys();
    this.watcher = new AllowlistWatcher(store, {
      onChange: (allowlist, problems) => this.onAllowlistChange(allowlist, problems),
      onWarning: (message) => {
        log.error({ event: "key_store" }, message);
        this.emit("warning", message);
      },
    });
    this.allowlist = await this.watcher.start();

    const session = new Session(config.initialState);
    this.state = await openState(config.state, session, log);
    // Events replayed from the journal stay available to resync, so clients can catch up across a restart.
    const history = new History(config.historyBytes, this.state.replayed.from);
    for (const record of this.state.replayed.events) history.add(record.seq, encode(record.header, record.frames));

    // The ZAP handler first, in the sockets' own context: without it libzmq would admit any key.
    this.zap = new ZapHandler(this.context, (request) => this.authorize(request), (error) => this.fatal(error));
    try {
      await this.zap.start();
    } catch (error) {
      throw new StartupError(`Cannot bind the ZAP handler (${(error as Error).message}); refusing to start without authentication.`);
    }
    const sockets = createSockets(this.context, config, serverKeys.secretKey);
    this.sockets = sockets;
    assertSecure(sockets);

    const stallMs = config.timeoutMs;
    const onStalled = (routingId: Buffer) => {
      const user = this.users.byRoutingId(routingId);
      if (user) this.remove(user, "stalled");
    };
    const broadcaster = new Broadcaster(session, sockets.subscriber, history, this.state.journal, (error) => this.fatal(error));
    const usersEvents = new Throttle(() => broadcaster.publish({ type: "users", users: this.users.info() }), config.usersEventIntervalMs);
    this.usersEvents = usersEvents;
    this.serverContext = {
      config,
      log,
      session,
      users: this.users,
      broadcaster,
      outboxes: {
        command: new Outbox(sockets.command, stallMs, onStalled),
        publisher: new Outbox(sockets.publisher, stallMs, onStalled),
        ttl: new Outbox(sockets.ttl, stallMs, onStalled),
      },
      serverKeys,
      allowlist: () => this.allowlist!,
      peerAddress: (publicKey) => this.zapAddresses.get(publicKey) ?? "unknown",
      markSeen: (print) => this.markSeen(store, print),
      remove: (user, reason) => this.remove(user, reason),
      publishUsers: () => usersEvents.request(),
    };
    this.state.releaseAbsentOwners(this.serverContext);
    await bindSockets(sockets, config);

    const commands = await CommandHandler.create(this.serverContext);
    this.pinger = new Pinger(this.serverContext);
    this.receive("command", sockets.command, (id, frames) => commands.handle(id, frames));
    this.receive("publisher", sockets.publisher, (id, frames) => handleCommit(this.serverContext!, id, frames));
    this.receive("ttl", sockets.ttl, (id, frames) => this.pinger!.handlePong(id, frames));
    this.pinger.start();
    log.info(
      { event: "listening", bind: config.bind, ports: PORTS.map((name, i) => ({ name, port: config.port + i })), fingerprint: fingerprint(serverKeys.publicKey), seq: session.seq },
      "curvehost is listening",
    );
  }

  /** The ZAP decision for one handshake (PROTOCOL.md §1). Every refusal is logged. */
  private authorize(request: ZapRequest): ZapVerdict {
    const refuse = (reason: string, print?: string): ZapVerdict => {
      this.log.warn({ event: "handshake_refused", domain: request.domain, address: request.address, fingerprint: print ?? null, reason }, "handshake refused");
      return { allow: false, reason };
    };
    if (request.mechanism !== "CURVE" || request.publicKey === null) return refuse(`mechanism ${request.mechanism || "none"}`);
    const print = fingerprint(request.publicKey);
    if (this.stopping) return refuse("server stopping", print);
    const status = this.allowlist!.status(request.publicKey);
    if (status.state !== "allowed") return refuse(`key ${status.state}`, print);
    if (request.domain === "command") {
      this.zapAddresses.set(request.publicKey, request.address);
      return { allow: true, userId: status.entry.name };
    }
    if (request.domain === "subscriber" || request.domain === "publisher" || request.domain === "ttl") {
      if (!this.users.byPublicKey(request.publicKey)) return refuse("not joined", print);
      return { allow: true, userId: status.entry.name };
    }
    return refuse(`unknown domain "${request.domain}"`, print);
  }

  private receive(name: string, socket: zmq.Router, handle: (routingId: Buffer, frames: Buffer[]) => void): void {
    receiveEach(socket, ([routingId, ...frames]) => {
      if (!routingId) return;
      try {
        handle(routingId, frames);
      } catch (error) {
        this.log.error({ event: "handler_error", port: name, error: (error as Error).message }, "request failed");
      }
    }).catch((error: Error) => {
      if (!socket.closed) this.fatal(error);
    });
  }

  /** Joins seen since the last write, written at most once a second, one write at a time. */
  private readonly seen = new Map<string, string>();
  private seenTimer: NodeJS.Timeout | undefined;
  private seenWriting: Promise<void> = Promise.resolve();

  private markSeen(store: KeyStore, print: string): void {
    this.seen.set(print, new Date().toISOString());
    if (this.seenTimer || this.stopping) return;
    this.seenTimer = setTimeout(() => {
      this.seenTimer = undefined;
      this.seenWriting = this.seenWriting.then(() => this.writeSeen(store));
    }, SEEN_FLUSH_MS);
  }

  /** Writes what was noted; on stop, after any write under way. */
  private async writeSeen(store: KeyStore): Promise<void> {
    if (this.seen.size === 0) return;
    const batch = Object.fromEntries(this.seen);
    this.seen.clear();
    await store.recordSeen(batch).catch((error: Error) => this.log.warn({ event: "key_store", error: error.message }, "could not record when keys were last seen"));
  }

  private onAllowlistChange(allowlist: Allowlist, problems: string[]): void {
    this.allowlist = allowlist;
    for (const problem of problems) this.log.error({ event: "key_store" }, problem);
    for (const user of this.users.all()) {
      const state = allowlist.status(user.publicKey).state;
      if (state !== "allowed") {
        this.log.warn({ event: "revocation", user: user.name, fingerprint: user.fingerprint, state }, "key no longer allowed; user removed");
        this.remove(user, state === "expired" ? "expired" : "revoked");
      }
    }
    this.emit("allowlist");
  }

  private remove(user: User, reason: RemovalReason): void {
    const context = this.serverContext!;
    if (this.users.byRoutingId(user.routingId) !== user) return; // removed already
    this.users.remove(user);
    for (const outbox of Object.values(context.outboxes)) outbox.forget(user.routingId);
    // First cut the subscriber connections, so that not even the news of the removal reaches the user.
    this.cycleSubscriber();
    const release = context.session.planRelease(user.name);
    if (release) context.broadcaster.publish(release);
    context.publishUsers();
    this.log.info({ event: "departure", user: user.name, fingerprint: user.fingerprint, reason }, "user removed");
    this.emit("departure", user.name, reason);
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
    if (this.stopping || !this.sockets) return;
    if (!this.nextCycle) {
      let resolve = () => {};
      const done = new Promise<void>((r) => (resolve = r));
      this.nextCycle = { done, resolve };
      this.serverContext!.broadcaster.holdUntil(done);
    }
    if (this.cycling) {
      this.cycleAgain = true;
      return;
    }
    const address = endpoint(this.config.bind, this.config.port + 1);
    this.cycling = (async () => {
      do {
        this.cycleAgain = false;
        const held = this.nextCycle;
        this.nextCycle = null;
        try {
          const fresh = createSubscriberSocket(this.context, this.config, this.serverContext!.serverKeys.secretKey);
          assertSocketSecure(fresh, "subscriber");
          this.sockets!.subscriber.close();
          this.sockets!.subscriber = fresh;
          await rebind(fresh, address);
          this.serverContext!.broadcaster.useSocket(fresh);
        } finally {
          held?.resolve();
        }
      } while (this.cycleAgain && !this.stopping);
    })()
      .catch((error: Error) => {
        if (!this.stopping) this.fatal(new Error(`cannot re-open the subscriber port: ${error.message}`));
      })
      .finally(() => {
        this.cycling = null;
        this.nextCycle?.resolve();
        this.nextCycle = null;
      });
  }

  /** Graceful stop: users told (`session` closing), journal flushed, sockets closed. */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    const context = this.serverContext;
    if (context) {
      this.usersEvents?.close(); // closing is the last event
      context.broadcaster.publish({ type: "session", state: "closing" });
      await context.broadcaster.settled();
      if (this.sockets) this.sockets.subscriber.linger = 500; // let the closing notice leave
    }
    await this.release();
    this.log.info({ event: "stopped" }, "curvehost stopped");
    return this.stopped;
  }

  private async release(): Promise<void> {
    this.stopping = true;
    this.pinger?.stop();
    this.usersEvents?.close();
    this.watcher?.stop();
    if (this.serverContext) for (const outbox of Object.values(this.serverContext.outboxes)) outbox.close();
    await this.cycling;
    if (this.sockets) closeSockets(this.sockets);
    this.zap?.close();
    await this.state?.close();
    clearTimeout(this.seenTimer);
    await this.seenWriting;
    if (this.store) await this.writeSeen(this.store);
    this.markStopped();
  }

  private fatal(error: Error): void {
    if (this.stopping) return;
    this.log.fatal({ event: "fatal", error: error.message }, "fatal error; stopping");
    void this.release().then(() => this.fatalHandler(error));
  }
}

const SEEN_FLUSH_MS = 1000;

/** libzmq releases the port in its I/O thread after unbind; on a loaded machine that can take a while. */
const REBIND_LIMIT_MS = 10_000;

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
