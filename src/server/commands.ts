/**
 * The command port: hello and join from anyone the allowlist admits, everything
 * else only from a routing id that a join has bound to a user.
 */
import {
  MAX_METADATA_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeRequest,
  encode,
  type CommandRequest,
} from "../protocol/index.js";
import { fingerprint } from "../keys/index.js";
import { loadSodium } from "../keys/sodium.js";
import { catalogBatches, fetchBatches } from "./batches.js";
import { withRef } from "./commits.js";
import type { ServerContext } from "./context.js";
import { verifyJoinProof, type Sodium } from "../protocol/join-proof.js";
import type { User } from "./users.js";

const PRESENCE_PER_SECOND = 30;

export class CommandHandler {
  private constructor(
    private readonly context: ServerContext,
    private readonly sodium: Sodium,
  ) {}

  static async create(context: ServerContext): Promise<CommandHandler> {
    return new CommandHandler(context, await loadSodium());
  }

  handle(routingId: Buffer, frames: Buffer[]): void {
    const decoded = decodeRequest("command", frames);
    if (!decoded.ok) {
      this.reply(routingId, { type: "error", ...withRef(decoded.error.ref), code: decoded.error.code, message: decoded.error.message });
      return;
    }
    const request = decoded.request;
    try {
      this.dispatch(routingId, request);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.reply(routingId, { type: "error", ...withRef(request.ref), code: error.code, message: error.message });
    }
  }

  private dispatch(routingId: Buffer, request: CommandRequest): void {
    const { session, broadcaster } = this.context;
    if (request.type === "hello") {
      this.reply(routingId, {
        type: "hello",
        ...withRef(request.ref),
        server: "curvehost",
        version: SERVER_VERSION,
        protocol: PROTOCOL_VERSION,
        session: this.context.config.session,
        state: session.state,
        users: this.context.users.size,
      });
      return;
    }
    if (request.type === "join") return this.join(routingId, request);

    const user = this.context.users.byRoutingId(routingId);
    if (!user) throw new ProtocolError("not_joined", "join first");
    const ok = () => this.replyWhenSettled(routingId, { type: "ok", ...withRef(request.ref), seq: session.seq });

    switch (request.type) {
      case "leave":
        this.context.remove(user, "left");
        return ok();
      case "catalog":
        return this.catalog(routingId, request.ref);
      case "fetch":
        return this.fetch(routingId, request.ref, request.ids);
      case "resync":
        return this.resync(routingId, request.ref, request.since);
      case "lock":
        broadcaster.publish(session.planLock(user, request.ids, request.force ?? false));
        return ok();
      case "unlock":
        broadcaster.publish(session.planUnlock(user, request.ids, request.force ?? false));
        return ok();
      case "delete":
        broadcaster.publish(session.planDelete(user, request.ids, request.force ?? false));
        return ok();
      case "open": {
        const change = session.planOpen(user);
        if (change) broadcaster.publish(change);
        return ok();
      }
      case "kick":
        return this.kick(user, request.user, ok);
      case "metadata":
        return this.presence(user, request.data, ok);
      case "users":
        this.reply(routingId, { type: "users", ...withRef(request.ref), users: this.context.users.info() });
        return;
    }
  }

  private join(routingId: Buffer, request: Extract<CommandRequest, { type: "join" }>): void {
    const { users, config, log } = this.context;
    const address = this.context.peerAddress(request.key);
    const status = this.context.allowlist().status(request.key);
    if (status.state !== "allowed") {
      log.warn({ event: "join_refused", fingerprint: fingerprint(request.key), address, reason: status.state }, "join refused");
      throw new ProtocolError("not_allowed", status.state === "unknown" ? "that key is not allowed" : `that key is ${status.state}`);
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
    const previous = users.byPublicKey(request.key) ?? users.byRoutingId(routingId);
    if (previous) this.context.remove(previous, "replaced");
    if (users.size >= config.maxUsers) throw new ProtocolError("denied", `the session is full (${config.maxUsers} users)`);

    const now = Date.now();
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
      presenceWindow: { start: now, count: 0 },
    };
    users.add(user);
    this.context.markSeen(user.fingerprint);
    log.info({ event: "join", user: user.name, role: user.role, fingerprint: user.fingerprint, address }, "user joined");
    this.context.publishUsers();
    this.replyWhenSettled(routingId, {
      type: "welcome",
      ...withRef(request.ref),
      user: user.name,
      role: user.role,
      state: this.context.session.state,
      seq: this.context.session.seq,
      users: users.info(),
    });
  }

  private kick(admin: User, name: string, ok: () => void): void {
    if (admin.role !== "admin") throw new ProtocolError("denied", "only an admin can kick");
    const target = this.context.users.byName(name);
    if (!target) throw new ProtocolError("not_found", `${name} is not joined`);
    this.context.remove(target, "kicked");
    // After the removal, which drops anything still queued for the user: this notice is the last thing they get.
    this.context.outboxes.command.send(target.routingId, encode({ type: "kicked", by: admin.name }));
    ok();
  }

  private presence(user: User, data: Record<string, unknown>, ok: () => void): void {
    const now = Date.now();
    const window = user.presenceWindow;
    if (now - window.start >= 1000) [window.start, window.count] = [now, 0];
    if (++window.count > PRESENCE_PER_SECOND) throw new ProtocolError("rate_limited", `at most ${PRESENCE_PER_SECOND} presence updates a second`);
    if (Buffer.byteLength(JSON.stringify(data)) > MAX_METADATA_BYTES) throw new ProtocolError("too_large", "presence data is over 8 KiB");
    this.context.broadcaster.publishPresence({ type: "presence", from: user.name, data, latency: user.latency });
    ok();
  }

  /** The whole state as of one seq; waits for the journal so nothing unpublished is revealed. */
  private catalog(routingId: Buffer, ref: string | number | undefined): void {
    const { session } = this.context;
    const seq = session.seq;
    const batches = catalogBatches(session.nodes.all());
    void this.context.broadcaster.settled().then(() => {
      batches.forEach((nodes, i) =>
        this.send(routingId, encode({ type: "catalog", ...withRef(ref), seq, last: i === batches.length - 1, nodes })),
      );
    });
  }

  private fetch(routingId: Buffer, ref: string | number | undefined, ids: string[]): void {
    const batches = fetchBatches(ids, (id) => this.context.session.nodes.get(id));
    void this.context.broadcaster.settled().then(() => {
      batches.forEach((batch, i) =>
        this.send(
          routingId,
          encode(
            { type: "nodes", ...withRef(ref), last: i === batches.length - 1, nodes: batch.map((node) => node.header) },
            batch.flatMap((node) => node.frames),
          ),
        ),
      );
    });
  }

  private resync(routingId: Buffer, ref: string | number | undefined, since: number): void {
    void this.context.broadcaster.settled().then(() => {
      const seq = this.context.session.seq;
      if (since > seq) return this.reply(routingId, { type: "error", ...withRef(ref), code: "bad_request", message: `seq ${since} is in the future (now ${seq})` });
      const events = this.context.broadcaster.eventsSince(since);
      if (!events) return this.reply(routingId, { type: "error", ...withRef(ref), code: "too_old", message: `events after ${since} are no longer held; fetch a new catalog` });
      for (const event of events) this.send(routingId, event.frames);
      this.reply(routingId, { type: "resynced", ...withRef(ref), seq });
    });
  }

  private reply(routingId: Buffer, header: object): void {
    this.send(routingId, encode(header));
  }

  private replyWhenSettled(routingId: Buffer, header: object): void {
    void this.context.broadcaster.settled().then(() => this.reply(routingId, header));
  }

  private send(routingId: Buffer, frames: Array<Buffer | string>): void {
    this.context.outboxes.command.send(routingId, frames);
  }
}

export const SERVER_VERSION = "0.1.0";
