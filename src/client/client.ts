/**
 * The curvehost client library: connects with an invite (or keys), joins with
 * the proof that binds its routing id to its key, mirrors the session, commits,
 * and answers pings. The CLI's `connect` and `check` and the tests use it, and a
 * TypeScript user can import it as `curvehost/client`.
 *
 * Its jobs live apart: the sockets and framing (connection.ts), requests matched
 * to replies (requests.ts), commits to their acknowledgements (commits.ts), the
 * server's pings (liveness.ts), the replica (replica.ts); this file joins them
 * into the session's flow: join, sync, and events applied in seq order.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Invite } from "../keys/index.js";
import { loadSodium } from "../keys/sodium.js";
import {
  PROTOCOL_VERSION,
  ROUTING_ID_BYTES,
  idsBody,
  nodesBody,
  refOf,
  type Body,
  type CatalogEntry,
  type CommitEntry,
  type Advertised,
  type NodesReply,
  type PresenceEvent,
  type ServerEvent,
  type ServerHeaderOf,
  type ServerMessage,
  type UserInfo,
} from "../protocol/index.js";
import { makeJoinProof } from "../protocol/join-proof.js";
import { Connection, firstHandshake, type Endpoint } from "./connection.js";
import { Replica } from "./replica.js";
import { PendingCommits } from "./commits.js";
import { Liveness } from "./liveness.js";
import { Requests, type Sent } from "./requests.js";

export interface ClientOptions extends Endpoint {
  /** How long a request may wait for its reply. */
  requestTimeoutMs?: number;
  /** No ping for this long and the server is taken as lost; by default the server's timeout. */
  lostTimeoutMs?: number;
}

/** The reply, if it is of the type expected; a ServerError otherwise. */
function expectReply<T extends ServerMessage["type"]>(expected: T, reply: ServerMessage): Extract<ServerMessage, { type: T }> {
  if (reply.type !== expected) throw new ServerError("bad_request", `the server answered ${reply.type} where ${expected} was expected`);
  return reply as Extract<ServerMessage, { type: T }>;
}

/** Whether a message is a sequenced event (PROTOCOL.md §6), which `users` is only with a seq. */
function isEvent(message: ServerMessage): message is ServerEvent {
  return message.type === "commit" || message.type === "rights" || message.type === "delete" || message.type === "session" || (message.type === "users" && message.seq !== undefined);
}

/** One node of a commit: its id, its data, and what the manifest may say of it (PROTOCOL.md §5). */
export type NodeCommit = Omit<CommitEntry, "size"> & { data: Buffer };
export type CommitOptions = Omit<NodeCommit, "id" | "data">;

/** A refusal from the server: its code (PROTOCOL.md §10), message, and the node at fault if any. */
export class ServerError extends Error {
  override readonly name = "ServerError";
  constructor(
    readonly code: string,
    message: string,
    readonly id?: string,
  ) {
    super(message);
  }
}

export type Welcome = ServerHeaderOf<"welcome">;
export type Hello = ServerHeaderOf<"hello">;

export interface ClientEvents {
  /** A sequenced event, applied to the replica. */
  event: [event: ServerEvent];
  presence: [presence: PresenceEvent];
  kicked: [by: string];
  /** The server said it is closing, or stopped answering pings. */
  lost: [reason: string];
}

/** The lost timeout before the server has advertised its own. */
const DEFAULT_LOST_TIMEOUT_MS = 5_000;

export class Client extends EventEmitter<ClientEvents> {
  readonly routingId: Buffer;
  readonly replica = new Replica();
  /** The server's limits, from hello or welcome. */
  limits: Advertised | undefined;
  private readonly connection: Connection;
  private readonly requests: Requests;
  private readonly requestTimeoutMs: number;
  /** The caller's lost timeout; without one, the server's (limits.timeout). */
  private readonly lostTimeoutOption: number | undefined;
  /** Sequenced events that arrived while the replica was not ready to take them. */
  private buffered: ServerEvent[] = [];
  private synced = false;
  private resyncing = false;
  private resyncAgain = false;
  private readonly commits: PendingCommits;
  private readonly liveness = new Liveness();
  private closed = false;
  /** The name the server gave this client at join. */
  private name: string | undefined;
  private readonly keys: { serverPublicKey: string; publicKey: string; secretKey: string };

  constructor(options: ClientOptions) {
    super();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.lostTimeoutOption = options.lostTimeoutMs;
    // R: 16 random bytes, first not 0 (libzmq reserves a leading 0 for generated ids).
    this.routingId = randomBytes(ROUTING_ID_BYTES);
    this.routingId[0] = this.routingId[0]! | 0x01;
    this.connection = new Connection(options, this.routingId);
    this.requests = new Requests(this.requestTimeoutMs);
    this.commits = new PendingCommits(this.requestTimeoutMs);
    this.keys = { serverPublicKey: options.serverPublicKey, publicKey: options.publicKey, secretKey: options.secretKey };
  }

  static fromInvite(invite: Invite, keys?: { publicKey: string; secretKey: string }, extra: Partial<ClientOptions> = {}): Client {
    const secretKey = keys?.secretKey ?? invite.client.secretKey;
    if (secretKey === undefined) throw new Error("This invite holds no secret key; give your own key file.");
    return new Client({
      host: invite.server.host,
      port: invite.server.port,
      serverPublicKey: invite.server.publicKey,
      publicKey: keys?.publicKey ?? invite.client.publicKey,
      secretKey,
      ...extra,
    });
  }

  /** Connects the command port and starts reading it. Nothing is sent yet. */
  connect(): void {
    // A connection remade (the server cut a port to remove someone, PROTOCOL.md §8) may have lost what was in flight:
    // send it again; the first reply to a ref wins, and the server applies a commit's ref once.
    this.connection.onReconnected("command", () => {
      for (const { header, body } of this.requests.outstanding()) void this.connection.send("command", header, body).catch(() => {});
    });
    this.connection.onReconnected("publisher", () => {
      for (const { header, body } of this.commits.outstanding()) void this.connection.send("publisher", header, body).catch(() => {});
    });
    this.connection.connect("command");
    this.connection.read(
      "command",
      (message) => this.onCommand(message),
      (header, error) => {
        // A reply this client cannot read fails its request at once, saying why, rather than timing out.
        const protocol = header["protocol"];
        const mismatch = typeof protocol === "number" && protocol !== PROTOCOL_VERSION;
        this.requests.fail(
          refOf(header),
          mismatch
            ? new ServerError("protocol_mismatch", `the server speaks protocol ${protocol}, this client ${PROTOCOL_VERSION}: update one of them`)
            : new ServerError("bad_request", `the server's reply could not be read: ${error.message}`),
        );
      },
    );
  }

  async hello(): Promise<Hello> {
    const hello = await this.request("hello", { type: "hello", protocol: PROTOCOL_VERSION });
    this.useLimits(hello.limits);
    return hello;
  }

  /** Joins, then connects the subscriber, publisher and ttl ports and waits for their handshakes (PROTOCOL.md §3). */
  async join(): Promise<Welcome> {
    const proof = makeJoinProof(await loadSodium(), {
      routingId: this.routingId,
      clientSecretKey: this.keys.secretKey,
      serverPublicKey: this.keys.serverPublicKey,
    });
    const welcome = await this.request("welcome", { type: "join", protocol: PROTOCOL_VERSION, key: this.keys.publicKey, ...proof });
    this.name = welcome.user;
    this.useLimits(welcome.limits);
    this.replica.state = welcome.state;
    this.replica.users = welcome.users;
    this.replica.presence = { ...welcome.presence };
    const { sockets } = this.connection;
    // A subscriber misses whatever is published before its handshake completes: wait for it, so that
    // a sync after join misses nothing. Later handshakes are reconnections after the server cycled
    // its subscriber port: ask for what went past meanwhile.
    const subscribed = firstHandshake(sockets.subscriber, "subscriber", this.requestTimeoutMs);
    this.connection.onReconnected("subscriber", () => {
      if (this.synced) this.resyncInBackground();
    });
    this.connection.connect("subscriber");
    await subscribed;
    this.connection.read("subscriber", (message) => this.onSubscriber(message));
    // The publisher and ttl handshakes too: once join() resolves, every port has accepted the key.
    const connected = [firstHandshake(sockets.publisher, "publisher", this.requestTimeoutMs), firstHandshake(sockets.ttl, "ttl", this.requestTimeoutMs)];
    this.connection.connect("publisher");
    this.connection.read("publisher", (message) => this.onPublisher(message));
    this.connection.connect("ttl");
    this.connection.read("ttl", (message) => this.onTtl(message));
    await Promise.all(connected);
    await this.connection.send("ttl", { type: "pong", n: 0 });
    this.liveness.start(() => this.lostTimeoutMs, (reason) => this.lose(reason));
    return welcome;
  }

  /** Takes the whole session in one fetch, then the events that arrived meanwhile (PROTOCOL.md §4). */
  async sync(): Promise<Replica> {
    const reply = await this.fetch();
    this.replica.nodes.clear();
    for (const node of reply.nodes) if (!("removed" in node)) this.replica.nodes.set(node.id, { ...node });
    this.replica.seq = reply.seq;
    this.replica.state = reply.state;
    this.replica.users = reply.users;
    this.synced = true;
    this.drainBuffered();
    return this.replica;
  }

  /** Nodes with their data as of one seq: those named, or every node. */
  async fetch(ids?: string[]): Promise<NodesReply> {
    return this.request("nodes", { type: "fetch" }, ids ? idsBody(ids) : []);
  }

  async catalog(): Promise<{ seq: number; nodes: CatalogEntry[] }> {
    const reply = await this.request("catalog", { type: "catalog" });
    return { seq: reply.seq, nodes: reply.nodes };
  }

  /** Commits one node; resolves with the seq it was published at (its acknowledgement). */
  commit(id: string, data: Buffer, options: CommitOptions = {}): Promise<number> {
    return this.commitBatch([{ ...options, id, data }]);
  }

  /** Commits several nodes, all or nothing, as one event with one seq (PROTOCOL.md §5). */
  commitBatch(nodes: readonly NodeCommit[]): Promise<number> {
    if (this.closed) return Promise.reject(new Error("the client is closed"));
    const ref = this.requests.nextRef();
    const entries = nodes.map(({ data, ...entry }) => ({ ...entry, size: data.length }));
    const { manifest, body } = nodesBody(entries, nodes.map((node) => node.data));
    const sent: Sent = { header: { type: "commit", ref, manifest }, body };
    const acknowledged = this.commits.expect(ref, sent);
    // A large commit goes in pieces; its time to be acknowledged starts with its last piece.
    this.connection.send("publisher", sent.header, sent.body).then(
      () => this.commits.sent(ref),
      (error: Error) => this.commits.reject(ref, error),
    );
    return acknowledged;
  }

  lock(ids: string[], force = false) {
    return this.changeRequest({ type: "lock", ...(force ? { force } : {}) }, ids);
  }
  unlock(ids: string[], force = false) {
    return this.changeRequest({ type: "unlock", ...(force ? { force } : {}) }, ids);
  }
  give(ids: string[], to: string, force = false) {
    return this.changeRequest({ type: "give", to, ...(force ? { force } : {}) }, ids);
  }
  delete(ids: string[], force = false) {
    return this.changeRequest({ type: "delete", ...(force ? { force } : {}) }, ids);
  }
  open() {
    return this.changeRequest({ type: "open" });
  }
  kick(user: string) {
    return this.changeRequest({ type: "kick", user });
  }
  /** Where this user is (frame, selection, view…): kept by the server for late joiners, published to the others. */
  presence(data: Record<string, unknown>) {
    return this.changeRequest({ type: "presence", data });
  }
  async users(): Promise<UserInfo[]> {
    return (await this.request("users", { type: "users" })).users;
  }
  leave() {
    return this.changeRequest({ type: "leave" });
  }

  /**
   * Asks for the events after the replica's seq and applies them (after a gap,
   * a subscriber reconnection, or a ping ahead of the replica). A request made
   * while one is under way runs again after it, since events may have been
   * published in between.
   */
  async resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.resyncing = true;
    try {
      do {
        this.resyncAgain = false;
        try {
          const { reply, replayed } = await this.exchange({ type: "resync", since: this.replica.seq }, [], true);
          for (const message of replayed) if (isEvent(message)) this.applyEvent(message);
          this.replica.presence = { ...expectReply("resynced", reply).presence };
        } catch (error) {
          if (error instanceof ServerError && error.code === "too_old") await this.sync();
          else throw error;
        }
      } while (this.resyncAgain);
    } finally {
      this.resyncing = false;
    }
    this.drainBuffered();
  }

  /** Closes every socket at once; pending requests and commits fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.liveness.stop();
    const error = new Error("the client was closed");
    this.requests.failAll(error);
    this.commits.failAll(error);
    this.connection.close();
  }

  /** How long without a ping the server counts as lost. */
  private get lostTimeoutMs(): number {
    return this.lostTimeoutOption ?? this.limits?.timeout ?? DEFAULT_LOST_TIMEOUT_MS;
  }

  private useLimits(limits: Advertised): void {
    this.limits = limits;
    this.connection.frameBytes = limits.frame;
  }

  private resyncInBackground(): void {
    void this.resync().catch(() => {});
  }

  private changeRequest(header: Record<string, unknown>, ids?: string[]): Promise<ServerHeaderOf<"ok">> {
    return this.request("ok", header, ids ? idsBody(ids) : []);
  }

  /** Sends a request and resolves with its reply, which must be of type `expected`. */
  private async request<T extends ServerMessage["type"]>(expected: T, header: Record<string, unknown>, body: Body = []): Promise<Extract<ServerMessage, { type: T }>> {
    return expectReply(expected, (await this.exchange(header, body, false)).reply);
  }

  /** Sends a request and waits for its reply (and, for resync, the events replayed before it). */
  private async exchange(header: Record<string, unknown>, body: Body, collects: boolean): Promise<{ reply: ServerMessage; replayed: ServerMessage[] }> {
    if (this.closed) throw new Error("the client is closed");
    const ref = this.requests.nextRef();
    const sent: Sent = { header: { ...header, ref }, body };
    const reply = this.requests.expect(ref, sent, collects);
    await this.connection.send("command", sent.header, sent.body);
    return reply;
  }

  private onCommand(message: ServerMessage): void {
    if (message.type === "kicked") {
      this.emit("kicked", message.by);
      return;
    }
    // Events replayed by resync belong to the resync in progress; a commit event's ref is its committer's, not a reply's.
    if (isEvent(message)) return this.requests.deliverUnreferenced(message);
    const ref = "ref" in message ? message.ref : undefined;
    if (ref === undefined) return;
    if (message.type === "error") this.requests.fail(ref, new ServerError(message.code, message.message, message.id));
    else this.requests.deliver(ref, message);
  }

  private onSubscriber(message: ServerMessage): void {
    if (message.type === "presence") {
      this.replica.presence[message.from] = { data: message.data, latency: message.latency };
      this.emit("presence", message);
      return;
    }
    if (!isEvent(message)) return;
    const event = message;
    this.liveness.event();
    if (!this.synced || this.resyncing) {
      this.buffered.push(event);
      return;
    }
    if (event.seq > this.replica.seq + 1) {
      // A gap: events were lost in transit. Keep this one and ask for the missing ones.
      this.buffered.push(event);
      this.resyncInBackground();
      return;
    }
    this.applyEvent(event);
  }

  private onPublisher(message: ServerMessage): void {
    if (message.type !== "rejected" || typeof message.ref !== "number") return;
    this.commits.reject(message.ref, new ServerError(message.code, message.message, message.id));
  }

  private onTtl(message: ServerMessage): void {
    if (message.type !== "ping") return;
    void this.connection.send("ttl", { type: "pong", n: message.n }).catch(() => {});
    const behind = this.liveness.ping(message.seq, this.replica.seq);
    if (behind && this.synced && !this.resyncing) this.resyncInBackground();
  }

  private applyEvent(event: ServerEvent): void {
    if (!this.replica.apply(event)) return;
    if (event.type === "commit" && event.from === this.name && typeof event.ref === "number") this.commits.acknowledge(event.ref, event.seq);
    if (event.type === "session" && event.state === "closing") this.lose("the server is closing");
    this.emit("event", event);
  }

  private drainBuffered(): void {
    const pending = this.buffered.sort((a, b) => a.seq - b.seq);
    this.buffered = [];
    for (const event of pending) {
      if (event.seq <= this.replica.seq) continue;
      if (event.seq > this.replica.seq + 1) {
        this.buffered.push(event);
        this.resyncInBackground();
        continue;
      }
      this.applyEvent(event);
    }
  }

  private lose(reason: string): void {
    if (this.closed) return;
    this.liveness.stop();
    this.emit("lost", reason);
  }
}
