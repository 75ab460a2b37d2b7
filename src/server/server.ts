/**
 * The curvehost server: wires the key store, admission (ZAP), the four CURVE
 * sockets, the port handlers, the session, departures and the journal together,
 * and owns their lifecycle.
 */
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import type { Logger } from "pino";
import { AllowlistWatcher, KeyStore, fingerprint } from "../keys/index.js";
import { Assembler, decodeRequest, type Decoded, type RequestPort, type WireFailure } from "../protocol/index.js";
import { Admission } from "./admission.js";
import { Broadcaster } from "./broadcast.js";
import { CommandHandler } from "./commands.js";
import { handleCommit } from "./commits.js";
import { PORTS, type PortName, type ServerConfig } from "./config.js";
import type { ServerContext } from "./context.js";
import { Departures } from "./departures.js";
import { eventFrames } from "./events.js";
import { History } from "./history.js";
import { Outbox, type OutboxEvents } from "./outbox.js";
import { ServerSockets, StartupError, assertCurveAvailable } from "./sockets.js";
import { Session, type SequencedChange } from "./session.js";
import { openState, type StateStore } from "./state.js";
import { receiveEach } from "../transport/receive.js";
import { LogLimiter } from "./log-limiter.js";
import { Throttle } from "./throttle.js";
import { Pinger } from "./ttl.js";
import type { User, RemovalReason } from "./users.js";
import { Users } from "./users.js";
import { ZapHandler } from "./zap.js";

/** What one user may leave unread in its reply queues before it is expelled (SECURITY.md, per-user bound). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

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

type Received<P extends RequestPort> = Decoded<P> | { ok: false; error: WireFailure };

export class Server extends EventEmitter<ServerEvents> {
  private readonly users = new Users();
  private admission: Admission | undefined;
  private zap: ZapHandler | undefined;
  private sockets: ServerSockets | undefined;
  private watcher: AllowlistWatcher | undefined;
  private pinger: Pinger | undefined;
  private usersEvents: Throttle | undefined;
  private state: StateStore | undefined;
  private serverContext: ServerContext | undefined;
  private stopping = false;
  /** Messages from routing ids no join has bound: a flood of them logs counts, not lines. */
  private readonly unboundMessages = new LogLimiter((port, count, seconds) =>
    this.log.warn({ event: "unbound_routing_id", port, count, seconds }, `${count} more messages from unbound routing ids in ${seconds} s`),
  );
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
    return this.sockets!.get(name);
  }

  /** Whether the live allowlist (and kick bans) admit this key now. */
  allows(publicKey: string): boolean {
    return this.admission?.status(publicKey).state === "allowed";
  }

  /** Resolves when the server has stopped, by stop() or a fatal error. */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  private async open(): Promise<void> {
    const { config, log } = this;
    assertCurveAvailable(zmq.capability);
    const store = new KeyStore(config.keys);
    const serverKeys = await store.serverKeys();
    this.watcher = new AllowlistWatcher(store, {
      onChange: (allowlist, problems) => {
        for (const problem of problems) log.error({ event: "key_store" }, problem);
        for (const { user, reason } of this.admission!.update(allowlist)) this.serverContext?.departures.remove(user, reason);
        this.emit("allowlist");
      },
      onWarning: (message) => {
        log.error({ event: "key_store" }, message);
        this.emit("warning", message);
      },
      onRecovered: (message) => log.warn({ event: "key_store" }, message),
    });
    const admission = new Admission(await this.watcher.start(), this.users, store, config.kickBanMs, log);
    this.admission = admission;

    const session = new Session(config.initialState, config.limits);
    this.state = await openState(config.state, session, log);
    // Events replayed from the journal stay available to resync, so clients can catch up across a restart.
    const replayed = this.state.takeReplayed();
    const history = new History(config.historyBytes, replayed.from);
    for (const record of replayed.events)
      history.add(record.seq, eventFrames(record.header as unknown as SequencedChange, record.frames, config.limits.frame));

    // The ZAP handler first, in the sockets' own context: without it libzmq would admit any key.
    this.zap = new ZapHandler(this.context, (request) => admission.authorize(request), (error) => this.fatal(error));
    try {
      await this.zap.start();
    } catch (error) {
      throw new StartupError(`Cannot bind the ZAP handler (${(error as Error).message}); refusing to start without authentication.`);
    }
    const handlers: Partial<Record<RequestPort, (routingId: Buffer, user: User | undefined, message: Received<RequestPort>) => void>> = {};
    const sockets = new ServerSockets(this.context, config, serverKeys.secretKey, (name, socket) => {
      // A port was cut: its new socket takes over sending and receiving.
      if (name === "subscriber") broadcaster.useSocket(socket as zmq.Publisher);
      else {
        const port = name as RequestPort;
        outboxes[port].useSocket(socket as zmq.Router);
        this.receive(port, socket as zmq.Router, handlers[port]!);
      }
    });
    this.sockets = sockets;

    const broadcaster = new Broadcaster(session, sockets.get("subscriber"), history, this.state.journal, config.limits.frame, (error) => this.fatal(error));
    const usersEvents = new Throttle(() => broadcaster.publish({ type: "users", users: this.users.info() }), config.usersEventIntervalMs);
    this.usersEvents = usersEvents;
    const outboxEvents: OutboxEvents = {
      stalled: (routingId) => {
        const user = this.users.byRoutingId(routingId);
        if (user) departures.remove(user, "stalled");
      },
      overBound: (routingId, bytes) => {
        const user = this.users.byRoutingId(routingId);
        if (user) this.expel(user, `${(bytes / 2 ** 20).toFixed(0)} MiB of replies left unread`);
      },
      expected: (routingId) => this.users.byRoutingId(routingId) !== undefined,
    };
    // Pings are sent every interval anyway: one that finds its user disconnected is not kept for it.
    const outbox = (port: RequestPort) =>
      new Outbox(sockets.get(port), config.timeoutMs, MAX_QUEUED_BYTES, port === "ttl" ? { ...outboxEvents, expected: () => false } : outboxEvents);
    const outboxes = { command: outbox("command"), publisher: outbox("publisher"), ttl: outbox("ttl") };
    const departures = new Departures({
      config,
      log,
      session,
      users: this.users,
      broadcaster,
      outboxes,
      sockets,
      publishUsers: () => usersEvents.request(),
      ban: (user) => admission.ban(user),
      onSubscriberCut: () => admission.resetSubscribers(),
      onRemoved: (name, reason) => this.emit("departure", name, reason),
      onFatal: (error) => this.fatal(error),
    });
    admission.onSecondSubscriber = (user) => departures.duplicateSubscriber(user);
    this.serverContext = { config, log, session, users: this.users, broadcaster, outboxes, serverKeys, admission, departures, publishUsers: () => usersEvents.request() };
    if (this.state.journal) departures.releaseAbsentOwners();
    await sockets.bind();

    const commands = await CommandHandler.create(this.serverContext);
    this.pinger = new Pinger(this.serverContext);
    handlers.command = (id, user, message) => commands.handle(id, user, message as Received<"command">);
    // receive() passes on the publisher port only what a joined user sent (an unbound routing id gets nothing back).
    handlers.publisher = (id, user, message) => handleCommit(this.serverContext!, id, user!, message as Received<"publisher">);
    handlers.ttl = (_id, user, message) => this.pinger!.handlePong(user, message as Received<"ttl">);
    for (const port of ["command", "publisher", "ttl"] as const) this.receive(port, sockets.get(port), handlers[port]!);
    this.pinger.start();
    log.info(
      { event: "listening", bind: config.bind, ports: PORTS.map((name, i) => ({ name, port: config.port + i })), fingerprint: fingerprint(serverKeys.publicKey), seq: session.seq },
      "curvehost is listening",
    );
  }

  /**
   * Reads one port: each message must be one frame (PROTOCOL.md §2); a joined
   * user's frames go through that user's assembler, so pieces come back whole;
   * anyone else's frames must each be a whole message.
   */
  private receive<P extends RequestPort>(port: P, socket: zmq.Router, handle: (routingId: Buffer, user: User | undefined, message: Received<P>) => void): void {
    const { limits } = this.config;
    const unbound = new Assembler(limits.header, () => null); // takes no pieces, so it never holds anything
    receiveEach(socket, ([routingId, ...frames]) => {
      if (!routingId) return;
      const user = this.users.byRoutingId(routingId);
      if (!user && port !== "command") {
        if (this.unboundMessages.admit(port)) this.log.warn({ event: "unbound_routing_id", port }, "message from a routing id no join has bound; dropped");
        return;
      }
      try {
        if (frames.length !== 1) {
          // No protocol-2 client sends one: from a joined user it is an attack (each part costs the server memory), so the user goes.
          if (user) return this.expel(user, `a message of ${frames.length} frames on the ${port} port`);
          handle(routingId, user, { ok: false, error: { code: "bad_request", message: "a message is one frame (PROTOCOL.md §2); this one had several" } });
          return;
        }
        const assembler = user && port !== "ttl" ? user.inbox[port as "command" | "publisher"] : unbound;
        const results = assembler.push(frames[0]!);
        for (let i = 0; i < results.length; i++) {
          // Handling the first (a refusal) can remove the user, over its bound of unread replies: the rest is no longer theirs.
          if (i > 0 && user && this.users.byRoutingId(routingId) !== user) return;
          const result = results[i]!;
          handle(routingId, user, result.ok ? decodeRequest(port, result.message, result.framed, limits) : result);
        }
      } catch (error) {
        this.log.error({ event: "handler_error", port, error: (error as Error).message }, "request failed");
      }
    }).catch((error: Error) => {
      if (!socket.closed) this.fatal(error);
    });
  }

  /** Removes a user who did what no honest client does (broke the protocol, left its replies unread past the bound). */
  private expel(user: User, what: string): void {
    this.serverContext!.departures.kick(user, "curvehost", what);
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
      if (this.sockets) this.sockets.get("subscriber").linger = 500; // let the closing notice leave
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
    await this.serverContext?.departures.stop();
    this.sockets?.close();
    this.unboundMessages.close();
    this.zap?.close();
    await this.state?.close();
    await this.admission?.close();
    this.markStopped();
  }

  private fatal(error: Error): void {
    if (this.stopping) return;
    this.log.fatal({ event: "fatal", error: error.message }, "fatal error; stopping");
    void this.release().then(() => this.fatalHandler(error));
  }
}
