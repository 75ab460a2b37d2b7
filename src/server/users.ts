/**
 * Who is joined right now: each user bound to the routing id R that their join
 * proved, and to their public key. A message from R on any port is that user's.
 * One R, one key: a routing id bound to one user is never silently rebound.
 */
import type { Role } from "../keys/index.js";
import type { Assembler, PresenceEntry, UserInfo } from "../protocol/index.js";

export interface User {
  name: string;
  role: Role;
  publicKey: string;
  fingerprint: string;
  routingId: Buffer;
  address: string;
  joinedAt: number;
  /** Round trip of the last answered ping, in ms; null before the first. */
  latency: number | null;
  /** When the user last showed life on the ttl port (or joined). */
  lastPong: number;
  /** Messages in pieces being put back together, per port that takes them. */
  inbox: { command: Assembler; publisher: Assembler };
  /** The latest presence data, for late joiners; null before the first. */
  presence: Record<string, unknown> | null;
  /** Presence updates accepted in the current one-second window. */
  presenceWindow: { start: number; count: number };
  /**
   * The refs of this join's latest requests (every one) and commits (those
   * accepted): one sent again after a cut is carried out once (PROTOCOL.md §5).
   */
  seen: { command: RecentRefs; publisher: RecentRefs };
}

/** The most recent refs seen, a bounded number of them, oldest forgotten first. */
export class RecentRefs {
  private readonly refs = new Set<string | number>();

  constructor(private readonly capacity = 4096) {}

  has(ref: string | number): boolean {
    return this.refs.has(ref);
  }

  add(ref: string | number): void {
    this.refs.add(ref);
    if (this.refs.size > this.capacity) this.refs.delete(this.refs.values().next().value!);
  }
}

/** Why a user stops being joined (PROTOCOL.md §8). */
export type RemovalReason = "left" | "kicked" | "expelled" | "lost" | "revoked" | "expired" | "replaced" | "stalled";

const routingKey = (routingId: Buffer) => routingId.toString("latin1");

export class Users {
  private readonly byRouting = new Map<string, User>();
  private readonly byKey = new Map<string, User>();

  get size(): number {
    return this.byRouting.size;
  }

  /** Binds a user; the caller has removed any user holding the same key or routing id. */
  add(user: User): void {
    if (this.byRouting.has(routingKey(user.routingId)) || this.byKey.has(user.publicKey))
      throw new Error("a routing id or key is bound already: remove its user first");
    this.byRouting.set(routingKey(user.routingId), user);
    this.byKey.set(user.publicKey, user);
  }

  remove(user: User): void {
    if (this.byRouting.get(routingKey(user.routingId)) === user) this.byRouting.delete(routingKey(user.routingId));
    if (this.byKey.get(user.publicKey) === user) this.byKey.delete(user.publicKey);
  }

  byRoutingId(routingId: Buffer): User | undefined {
    return this.byRouting.get(routingKey(routingId));
  }

  byPublicKey(publicKey: string): User | undefined {
    return this.byKey.get(publicKey);
  }

  byName(name: string): User | undefined {
    for (const user of this.byRouting.values()) if (user.name === name) return user;
    return undefined;
  }

  all(): User[] {
    return [...this.byRouting.values()];
  }

  info(): UserInfo[] {
    return this.all()
      .map((user) => ({ name: user.name, role: user.role, state: "joined", latency: user.latency }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every joined user's latest presence, by name (PROTOCOL.md §3, §5). */
  presence(): Record<string, PresenceEntry> {
    const out: Record<string, PresenceEntry> = {};
    for (const user of this.byRouting.values()) if (user.presence) out[user.name] = { data: user.presence, latency: user.latency };
    return out;
  }
}
