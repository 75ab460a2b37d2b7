/**
 * The command port: hello and join from anyone the allowlist admits, everything
 * else only from a routing id that a join has bound to a user.
 */
import {
  PROTOCOL_VERSION,
  ProtocolError,
  framesOf,
  toFrames,
  messageBytes,
  nodesBody,
  type Advertised,
  type Body,
  type CatalogEntry,
  type CommandRequest,
  type Decoded,
  type FetchedEntry,
  type ServerHeader,
  type WireFailure,
} from "../protocol/index.js";
import { fingerprint } from "../keys/index.js";
import { loadSodium } from "../keys/sodium.js";
import { JOINS_PER_WINDOW, JOIN_WINDOW_MS } from "./admission.js";
import type { ServerContext } from "./context.js";
import { verifyJoinProof, type Sodium } from "../protocol/join-proof.js";
import { RecentRefs, type User } from "./users.js";
import { Assembler } from "../protocol/index.js";
import { SERVER_VERSION } from "./version.js";

type Ref = string | number | undefined;
const withRef = (ref: Ref): { ref?: string | number } => (ref === undefined ? {} : { ref });

export class CommandHandler {
  private constructor(
    private readonly context: ServerContext,
    private readonly sodium: Sodium,
  ) {}

  static async create(context: ServerContext): Promise<CommandHandler> {
    return new CommandHandler(context, await loadSodium());
  }

  /** A whole message from `routingId` (decoded, or refused as it arrived); `user` is who it is bound to, if anyone. */
  handle(routingId: Buffer, user: User | undefined, decoded: Decoded<"command"> | { ok: false; error: WireFailure }): void {
    if (!decoded.ok) return this.fail(routingId, decoded.error.ref, decoded.error.code, decoded.error.message, decoded.error.id);
    const request = decoded.request;
    if (user && request.ref !== undefined) {
      // Sent again after the connection was remade (PROTOCOL.md §5): carried out, and answered, once already.
      if (user.seen.command.has(request.ref)) return;
      user.seen.command.add(request.ref);
    }
    try {
      this.dispatch(routingId, user, request);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.fail(routingId, request.ref, error.code, error.message, error.id);
    }
  }

  private dispatch(routingId: Buffer, user: User | undefined, request: CommandRequest): void {
    const { session, broadcaster, config } = this.context;
    if (request.type === "hello") {
      return this.reply(routingId, {
        type: "hello",
        ...withRef(request.ref),
        server: "curvehost",
        version: SERVER_VERSION,
        protocol: PROTOCOL_VERSION,
        session: config.session,
        state: session.state,
        users: this.context.users.size,
        limits: this.advertised(),
      });
    }
    if (request.type === "join") return this.join(routingId, request);
    if (!user) throw new ProtocolError("not_joined", "join first");
    const ok = () => this.replyWhenSettled(routingId, { type: "ok", ...withRef(request.ref), seq: session.seq });
    const ids = request.ids ?? [];
    const force = "force" in request && request.force === true;

    switch (request.type) {
      case "leave":
        this.context.departures.remove(user, "left");
        return ok();
      case "fetch":
        return this.fetch(routingId, request.ref, request.ids);
      case "catalog":
        return this.catalog(routingId, request.ref);
      case "resync":
        return this.resync(routingId, request.ref, request.since);
      case "lock":
        broadcaster.publish(session.planLock(user, ids, force));
        return ok();
      case "unlock":
        broadcaster.publish(session.planUnlock(user, ids, force));
        return ok();
      case "give":
        if (!this.context.users.byName(request.to)) throw new ProtocolError("not_found", `${request.to} is not joined`);
        broadcaster.publish(session.planGive(user, ids, request.to, force));
        return ok();
      case "delete":
        broadcaster.publish(session.planDelete(user, ids, force));
        return ok();
      case "open": {
        const change = session.planOpen(user);
        if (change) broadcaster.publish(change);
        return ok();
      }
      case "kick":
        return this.kick(user, request.user, ok);
      case "presence":
        return this.presence(user, request.data, ok);
      case "users":
        return this.reply(routingId, { type: "users", ...withRef(request.ref), users: this.context.users.info() });
    }
  }

  private join(routingId: Buffer, request: Extract<CommandRequest, { type: "join" }>): void {
    const { users, config, log, admission, departures } = this.context;
    const address = admission.peerAddress(request.key);
    const status = admission.status(request.key);
    if (status.state !== "allowed") {
      log.warn({ event: "join_refused", fingerprint: fingerprint(request.key), address, reason: status.state }, "join refused");
      const why =
        status.state === "unknown" ? "that key is not allowed"
        : status.state === "banned" ? `that key was kicked; it may join again after ${new Date(status.until).toISOString()}`
        : `that key is ${status.state}`;
      throw new ProtocolError("not_allowed", why);
    }
    const proved = verifyJoinProof(this.sodium, {
      routingId,
      clientPublicKey: request.key,
      nonce: request.nonce,
      proof: request.proof,
      serverSecretKey: this.context.serverKeys.secretKey,
    });
    if (!proved) {
      log.warn({ event: "join_refused", fingerprint: status.entry.fingerprint, address, reason: "bad_proof" }, "join refused: bad proof");
      throw new ProtocolError("not_allowed", "the join proof does not match this key and routing id");
    }
    const wait = admission.joinWait(request.key);
    if (wait > 0) throw new ProtocolError("rate_limited", `a key joins at most ${JOINS_PER_WINDOW} times in ${JOIN_WINDOW_MS / 1000} s; try again in ${wait} s`);
    const boundHere = users.byRoutingId(routingId);
    if (boundHere && boundHere.publicKey !== request.key) {
      log.warn({ event: "join_refused", fingerprint: status.entry.fingerprint, address, reason: "routing_id_bound" }, "join refused: routing id bound to another key");
      throw new ProtocolError("denied", "this routing id is bound to another key; connect with a new routing id");
    }
    const previous = users.byPublicKey(request.key);
    if (previous) departures.remove(previous, "replaced");
    if (users.size >= config.maxUsers) throw new ProtocolError("denied", `the session is full (${config.maxUsers} users)`);

    const now = Date.now();
    const pieces = (bytes: number, code: "request_too_large" | "commit_too_large") => () => ({ bytes, code });
    const user: User = {
      name: status.entry.name,
      role: status.entry.role,
      publicKey: request.key,
      fingerprint: status.entry.fingerprint,
      routingId: Buffer.from(routingId),
      address,
      joinedAt: now,
      latency: null,
      lastPong: now,
      inbox: {
        command: new Assembler(config.limits.header, pieces(config.limits.request, "request_too_large")),
        publisher: new Assembler(config.limits.header, pieces(config.limits.commit, "commit_too_large")),
      },
      presence: null,
      presenceWindow: { start: now, count: 0 },
      seen: { command: new RecentRefs(), publisher: new RecentRefs() },
    };
    users.add(user);
    admission.markSeen(user.fingerprint);
    log.info({ event: "join", user: user.name, role: user.role, fingerprint: user.fingerprint, address }, "user joined");
    this.context.publishUsers();
    const session = this.context.session;
    this.replyWhenSettled(routingId, {
      type: "welcome",
      ...withRef(request.ref),
      protocol: PROTOCOL_VERSION,
      user: user.name,
      role: user.role,
      state: session.state,
      seq: session.seq,
      users: users.info(),
      presence: users.presence(),
      limits: this.advertised(),
    });
  }

  private kick(admin: User, name: string, ok: () => void): void {
    if (admin.role !== "admin") throw new ProtocolError("denied", "only an admin can kick");
    const target = this.context.users.byName(name);
    if (!target) throw new ProtocolError("not_found", `${name} is not joined`);
    this.context.departures.kick(target, admin.name);
    ok();
  }

  private presence(user: User, data: Record<string, unknown>, ok: () => void): void {
    const { limits } = this.context.config;
    const now = Date.now();
    const window = user.presenceWindow;
    if (now - window.start >= 1000) [window.start, window.count] = [now, 0];
    if (++window.count > limits.presenceRate) throw new ProtocolError("rate_limited", `at most ${limits.presenceRate} presence updates a second`);
    if (Buffer.byteLength(JSON.stringify(data)) > limits.presence) throw new ProtocolError("presence_too_large", `presence data is at most ${limits.presence} bytes of JSON`);
    user.presence = data;
    const header: ServerHeader = { type: "presence", from: user.name, data, latency: user.latency };
    this.context.broadcaster.publishPresence(toFrames(header, [], limits.frame));
    ok();
  }

  /** Every node asked for (every node, without ids) as of one seq; waits for the journal so nothing unpublished is revealed. */
  private fetch(routingId: Buffer, ref: Ref, ids: string[] | undefined): void {
    const { session } = this.context;
    const seq = session.seq;
    const entries: FetchedEntry[] = [];
    const parts: Buffer[] = [];
    const wanted = ids ? new Set(ids) : [...session.nodes.all()].map((node) => node.id);
    for (const id of wanted) {
      const node = session.nodes.get(id);
      if (!node) {
        entries.push({ id, removed: true });
        continue;
      }
      entries.push({ id, owner: node.owner, kind: node.kind, deps: node.deps, parts: node.parts.map((part) => part.length) });
      parts.push(...node.parts);
    }
    const { manifest, body } = nodesBody(entries, parts);
    const whole = { state: session.state, users: this.context.users.info() };
    // The parts are the session's: what this reply holds of its own is its manifest.
    this.replyWhenSettled(routingId, { type: "nodes", ...withRef(ref), seq, manifest, ...whole }, body, manifest);
  }

  private catalog(routingId: Buffer, ref: Ref): void {
    const { session } = this.context;
    const seq = session.seq;
    const nodes: CatalogEntry[] = [...session.nodes.all()].map((node) => ({ id: node.id, owner: node.owner, kind: node.kind, deps: node.deps, size: node.size, deltas: node.parts.length - 1 }));
    this.replyWhenSettled(routingId, { type: "catalog", ...withRef(ref), seq }, [Buffer.from(JSON.stringify(nodes))]);
  }

  private resync(routingId: Buffer, ref: Ref, since: number): void {
    void this.context.broadcaster.settled().then(() => {
      const { session, broadcaster, users } = this.context;
      if (since > session.seq) return this.fail(routingId, ref, "bad_request", `seq ${since} is in the future (now ${session.seq})`);
      const events = broadcaster.eventsSince(since);
      if (!events) return this.fail(routingId, ref, "too_old", `events after ${since} are no longer held; fetch everything again`);
      // The frames are the history's: queued, they hold nothing of their own.
      for (const event of events) for (const frame of event.frames) this.context.outboxes.command.send(routingId, [frame], 0);
      this.reply(routingId, { type: "resynced", ...withRef(ref), seq: session.seq, presence: users.presence() });
    });
  }

  /** The limits, with the ttl port's timing. */
  private advertised(): Advertised {
    const { limits, pingIntervalMs, timeoutMs } = this.context.config;
    return { ...limits, ping: pingIntervalMs, timeout: timeoutMs };
  }

  private fail(routingId: Buffer, ref: Ref, code: string, message: string, id?: string): void {
    this.reply(routingId, { type: "error", ...withRef(ref), code, message, ...(id === undefined ? {} : { id }) });
  }

  /** `ownBytes`: what the body holds that nothing else does, by default all of it. */
  private reply(routingId: Buffer, header: ServerHeader, body: Body = [], ownBytes?: number): void {
    const held = messageBytes(header) + (ownBytes ?? body.reduce((n, part) => n + part.length, 0));
    this.context.outboxes.command.send(routingId, framesOf(header, body, this.context.config.limits.frame), held);
  }

  private replyWhenSettled(routingId: Buffer, header: ServerHeader, body: Body = [], ownBytes?: number): void {
    void this.context.broadcaster.settled().then(() => this.reply(routingId, header, body, ownBytes));
  }
}
