/**
 * The curvehost client library: connects with an invite (or keys), joins with
 * the proof that binds its routing id to its key, mirrors the session, commits,
 * and answers pings. The CLI's `connect` and `check` and the tests use it, and a
 * TypeScript user can import it as `curvehost/client`.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import type { Invite } from "../keys/index.js";
import { loadSodium } from "../keys/sodium.js";
import {
  MAX_HEADER_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  ROUTING_ID_BYTES,
  decodeMessage,
  encode,
  type ServerEvent,
  type ServerMessage,
  type UserInfo,
} from "../protocol/index.js";
import { makeJoinProof } from "../protocol/join-proof.js";
import { Replica } from "./replica.js";
import { Requests } from "./requests.js";
import { receiveEach, type ReadableSocket } from "../transport/receive.js";
import { SendQueue } from "../transport/send-queue.js";

export interface ClientOptions {
  host: string;
  /** The server's base port P. */
  port: number;
  serverPublicKey: string;
  publicKey: string;
  secretKey: string;
  /** How long a request may wait for its reply. */
  requestTimeoutMs?: number;
  /** No ping for this long and the server is taken as lost. */
  lostTimeoutMs?: number;
}

export interface CommitOptions {
  kind?: string;
  deps?: string[];
  mode?: "full" | "delta";
  owner?: "common";
}

/** A refusal from the server: its code (PROTOCOL.md §2) and message. */
export class ServerError extends Error {
  override readonly name = "ServerError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Welcome = Extract<ServerMessage, { type: "welcome" }>;
type Hello = Extract<ServerMessage, { type: "hello" }>;

export interface ClientEvents {
  /** A sequenced event, applied to the replica. */
  event: [event: ServerEvent, frames: Buffer[]];
  presence: [presence: Extract<ServerMessage, { type: "presence" }>];
  kicked: [by: string];
  /** The server said it is closing, or stopped answering pings. */
  lost: [reason: string];
}

export class Client extends EventEmitter<ClientEvents> {
  readonly routingId: Buffer;
  readonly replica = new Replica();
  private readonly command: zmq.Dealer;
  private readonly subscriber: zmq.Subscriber;
  private readonly publisher: zmq.Dealer;
  private readonly ttl: zmq.Dealer;
  private readonly requests: Requests;
  private readonly commandOut: SendQueue;
  private readonly publisherOut: SendQueue;
  private readonly ttlOut: SendQueue;
  private readonly requestTimeoutMs: number;
  private readonly lostTimeoutMs: number;
  /** Sequenced events that arrived while the replica was not ready to take them. */
  private buffered: Array<{ event: ServerEvent; frames: Buffer[] }> = [];
  private synced = false;
  private resyncing = false;
  private resyncAgain = false;
  private readonly pendingCommits = new Map<string, Array<{ resolve: (seq: number) => void; reject: (error: Error) => void; ref: number }>>();
  private lastPing = Date.now();
  private lostTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The name the server gave this client at join. */
  private name: string | undefined;

  constructor(private readonly options: ClientOptions) {
    super();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.lostTimeoutMs = options.lostTimeoutMs ?? 5_000;
    // R: 16 random bytes, first not 0 (libzmq reserves a leading 0 for generated ids).
    this.routingId = randomBytes(ROUTING_ID_BYTES);
    this.routingId[0] = this.routingId[0]! | 0x01;
    const secure = {
      curveServerKey: options.serverPublicKey,
      curvePublicKey: options.publicKey,
      curveSecretKey: options.secretKey,
      linger: 0,
    };
    const dealer = () => new zmq.Dealer({ ...secure, routingId: this.routingId as unknown as string });
    this.command = dealer();
    this.publisher = dealer();
    this.ttl = dealer();
    this.subscriber = new zmq.Subscriber({ ...secure, receiveHighWaterMark: 0 });
    this.requests = new Requests(this.requestTimeoutMs);
    this.commandOut = new SendQueue(this.command);
    this.publisherOut = new SendQueue(this.publisher);
    this.ttlOut = new SendQueue(this.ttl);
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

  private address(offset: number): string {
    const host = this.options.host.includes(":") && !this.options.host.startsWith("[") ? `[${this.options.host}]` : this.options.host;
    return `tcp://${host}:${this.options.port + offset}`;
  }

  /** Connects the command port and starts reading it. Nothing is sent yet. */
  connect(): void {
    this.command.connect(this.address(0));
    this.readCommands();
  }

  async hello(): Promise<Hello> {
    return (await this.request({ type: "hello" })) as Hello;
  }

  /** Joins, then connects the subscriber, publisher and ttl ports and waits for their handshakes (PROTOCOL.md §3). */
  async join(): Promise<Welcome> {
    const sodium = await loadSodium();
    const proof = makeJoinProof(sodium, {
      routingId: this.routingId,
      clientSecretKey: this.options.secretKey,
      serverPublicKey: this.options.serverPublicKey,
    });
    const welcome = (await this.request({ type: "join", protocol: PROTOCOL_VERSION, key: this.options.publicKey, ...proof })) as Welcome;
    this.name = welcome.user;
    this.replica.state = welcome.state;
    this.replica.users = welcome.users;
    this.subscriber.subscribe();
    // A subscriber misses whatever is published before its handshake completes: wait for it, so that
    // a sync after join misses nothing. Later handshakes are reconnections after the server cycled
    // its subscriber port: ask for what went past meanwhile.
    const subscribed = firstHandshake(this.subscriber, "subscriber", this.requestTimeoutMs);
    this.subscriber.events.on("handshake", () => {
      if (this.synced) void this.resync().catch(() => {});
    });
    this.subscriber.connect(this.address(1));
    await subscribed;
    this.readSubscriber();
    // The publisher and ttl handshakes too: once join() resolves, every port has accepted the key.
    const connected = [firstHandshake(this.publisher, "publisher", this.requestTimeoutMs), firstHandshake(this.ttl, "ttl", this.requestTimeoutMs)];
    this.publisher.connect(this.address(2));
    this.readPublisher();
    this.ttl.connect(this.address(3));
    this.readTtl();
    await Promise.all(connected);
    await this.ttlOut.send(encode({ type: "pong", n: 0 }));
    this.lastPing = Date.now();
    this.lostTimer = setInterval(() => {
      if (Date.now() - this.lastPing > this.lostTimeoutMs) this.lose("no ping from the server");
    }, Math.min(500, this.lostTimeoutMs));
    return welcome;
  }

  /** Takes the whole session: catalog, fetch in batches, then the events that arrived meanwhile. */
  async sync(): Promise<Replica> {
    const catalog = await this.requestAll({ type: "catalog" });
    const seq = (catalog[0]!.message as { seq: number }).seq;
    const ids = catalog.flatMap((part) => (part.message as Extract<ServerMessage, { type: "catalog" }>).nodes.map((node) => node.id));
    this.replica.nodes.clear();
    // Every fetch is sent at once: the join costs bandwidth, not one round trip per batch.
    const replies = await Promise.all(splitIds(ids).map((batch) => this.requestAll({ type: "fetch", ids: batch })));
    for (const parts of replies) {
      for (const { message, payload } of parts) {
        let frame = 0;
        for (const node of (message as Extract<ServerMessage, { type: "nodes" }>).nodes) {
          const frames = payload.slice(frame, frame + node.frames);
          frame += node.frames;
          if (!node.removed) this.replica.nodes.set(node.id, { id: node.id, owner: node.owner, deps: node.deps, kind: node.kind, frames });
        }
      }
    }
    this.replica.seq = seq;
    this.synced = true;
    this.drainBuffered();
    return this.replica;
  }

  /** Commits one node; resolves with the seq it was published at (its acknowledgement). */
  commit(id: string, data: Buffer, options: CommitOptions = {}): Promise<number> {
    const ref = this.requests.nextRef();
    const header = { type: "commit", ref, id, kind: options.kind ?? "", deps: options.deps ?? [], mode: options.mode ?? "full", ...(options.owner ? { owner: options.owner } : {}) };
    return new Promise<number>((resolve, reject) => {
      const waiting = this.pendingCommits.get(id) ?? [];
      const timer = setTimeout(() => {
        const index = waiting.indexOf(entry);
        if (index >= 0) waiting.splice(index, 1);
        reject(new Error(`commit ${id} was not acknowledged within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      const entry = {
        ref,
        resolve: (seq: number) => (clearTimeout(timer), resolve(seq)),
        reject: (error: Error) => (clearTimeout(timer), reject(error)),
      };
      waiting.push(entry);
      this.pendingCommits.set(id, waiting);
      this.publisherOut.send(encode(header, [data])).catch(entry.reject);
    });
  }

  lock(ids: string[], force = false) {
    return this.request({ type: "lock", ids, ...(force ? { force } : {}) });
  }
  unlock(ids: string[], force = false) {
    return this.request({ type: "unlock", ids, ...(force ? { force } : {}) });
  }
  delete(ids: string[], force = false) {
    return this.request({ type: "delete", ids, ...(force ? { force } : {}) });
  }
  open() {
    return this.request({ type: "open" });
  }
  kick(user: string) {
    return this.request({ type: "kick", user });
  }
  metadata(data: Record<string, unknown>) {
    return this.request({ type: "metadata", data });
  }
  async users(): Promise<UserInfo[]> {
    return ((await this.request({ type: "users" })) as Extract<ServerMessage, { type: "users" }>).users;
  }
  leave() {
    return this.request({ type: "leave" });
  }

  /**
   * Asks for the events after the replica's seq and applies them (after a gap,
   * or a subscriber reconnection). A request made while one is under way runs
   * again after it, since events may have been published in between.
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
          const parts = await this.requestAll({ type: "resync", since: this.replica.seq }, "resynced");
          for (const { message, payload } of parts) if (message.type !== "resynced") this.applyEvent(message as ServerEvent, payload);
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

  /** Closes every socket at once; pending requests fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lostTimer);
    this.requests.failAll(new Error("the client was closed"));
    for (const waiting of this.pendingCommits.values()) for (const commit of waiting) commit.reject(new Error("the client was closed"));
    this.pendingCommits.clear();
    for (const socket of [this.command, this.subscriber, this.publisher, this.ttl]) socket.close();
  }

  private async request(header: Record<string, unknown>): Promise<ServerMessage> {
    return (await this.requestAll(header))[0]!.message;
  }

  /** Sends a request and collects its reply: one message, or several up to `last: true` or a final type. */
  private async requestAll(header: Record<string, unknown>, finalType?: string): Promise<Array<{ message: ServerMessage; payload: Buffer[] }>> {
    if (this.closed) throw new Error("the client is closed");
    const ref = this.requests.nextRef();
    const reply = this.requests.expect(ref, finalType);
    await this.commandOut.send(encode({ ...header, ref }));
    return reply;
  }

  /**
   * Reads a socket until it closes, handing on each message the server could have
   * sent (anything else is dropped); an error there, or in a listener, ends the
   * reading as a close would.
   */
  private read(socket: ReadableSocket, handle: (message: ServerMessage, payload: Buffer[]) => void): void {
    receiveEach(socket, (frames) => {
      const decoded = safeDecode(frames);
      if (decoded) handle(decoded.message, decoded.payload);
    }).catch(() => {});
  }

  private readCommands(): void {
    this.read(this.command, (message, payload) => {
      if (message.type === "kicked") {
        this.emit("kicked", message.by);
        return;
      }
      // Events replayed by resync carry no ref: they belong to the resync in progress.
      if (!("ref" in message) || message.ref === undefined) {
        this.requests.deliverUnreferenced(message, payload);
        return;
      }
      if (message.type === "error") this.requests.fail(message.ref, new ServerError(message.code, message.message));
      else this.requests.deliver(message.ref, message, payload);
    });
  }

  private readSubscriber(): void {
    this.read(this.subscriber, (message, payload) => {
      if (message.type === "presence") {
        this.emit("presence", message);
        return;
      }
      const event = message as ServerEvent;
      if (!this.synced || this.resyncing) {
        this.buffered.push({ event, frames: payload });
        return;
      }
      if (event.seq > this.replica.seq + 1) {
        // A gap: events were lost in transit. Keep this one and ask for the missing ones.
        this.buffered.push({ event, frames: payload });
        void this.resync().catch(() => {});
        return;
      }
      this.applyEvent(event, payload);
    });
  }

  private readPublisher(): void {
    this.read(this.publisher, (message) => {
      if (message.type !== "rejected") return;
      const rejected = message;
      for (const [id, waiting] of this.pendingCommits) {
        const index = waiting.findIndex((commit) => commit.ref === rejected.ref);
        if (index < 0) continue;
        const [commit] = waiting.splice(index, 1);
        if (waiting.length === 0) this.pendingCommits.delete(id);
        commit!.reject(new ServerError(rejected.code, rejected.message));
      }
    });
  }

  private readTtl(): void {
    this.read(this.ttl, (message) => {
      if (message.type !== "ping") return;
      this.lastPing = Date.now();
      void this.ttlOut.send(encode({ type: "pong", n: message.n })).catch(() => {});
    });
  }

  private applyEvent(event: ServerEvent, frames: Buffer[]): void {
    if (!this.replica.apply(event, frames)) return;
    if (event.type === "commit" && event.from === this.name) {
      const waiting = this.pendingCommits.get(event.id);
      const commit = waiting?.shift();
      if (waiting && waiting.length === 0) this.pendingCommits.delete(event.id);
      commit?.resolve(event.seq);
    }
    if (event.type === "session" && event.state === "closing") this.lose("the server is closing");
    this.emit("event", event, frames);
  }

  private drainBuffered(): void {
    const pending = this.buffered.sort((a, b) => a.event.seq - b.event.seq);
    this.buffered = [];
    for (const { event, frames } of pending) {
      if (event.seq <= this.replica.seq) continue;
      if (event.seq > this.replica.seq + 1) {
        this.buffered.push({ event, frames });
        void this.resync().catch(() => {});
        continue;
      }
      this.applyEvent(event, frames);
    }
  }

  private lose(reason: string): void {
    if (this.closed) return;
    clearInterval(this.lostTimer);
    this.emit("lost", reason);
  }
}

/**
 * Resolves at the socket's first completed CURVE handshake; rejects, naming the
 * port, when the server refuses the key there or nothing completes in time.
 */
function firstHandshake(socket: zmq.Socket, port: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const events = socket.events;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      events.off("handshake", done);
      events.off("handshake:error:auth", refused);
      if (error) reject(error);
      else resolve();
    };
    const done = () => finish();
    const refused = () => finish(new Error(`the ${port} port refused this key`));
    const timer = setTimeout(() => finish(new Error(`the ${port} port did not complete its handshake within ${timeoutMs} ms`)), timeoutMs);
    events.on("handshake", done);
    events.on("handshake:error:auth", refused);
  });
}

/** Id bytes per fetch request, so that a request header stays well under MAX_HEADER_BYTES. */
const FETCH_ID_BYTES = MAX_HEADER_BYTES / 2;

function splitIds(ids: string[]): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = Buffer.byteLength(id) * 2 + 3; // JSON escaping can double it
    if (bytes + size > FETCH_ID_BYTES && batch.length > 0) {
      batches.push(batch);
      [batch, bytes] = [[], 0];
    }
    batch.push(id);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

function safeDecode(frames: Buffer[]): { message: ServerMessage; payload: Buffer[] } | null {
  try {
    return decodeMessage(frames);
  } catch (error) {
    if (error instanceof ProtocolError) return null;
    throw error;
  }
}
