/**
 * Who is joined right now: each user bound to the routing id R that their join
 * proved, and to their public key. A message from R on any port is that user's.
 */
import type { Role } from "../keys/index.js";

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
  /** Presence updates accepted in the current one-second window. */
  presenceWindow: { start: number; count: number };
}

export interface UserInfo {
  name: string;
  role: Role;
  state: "joined";
  latency: number | null;
}

const routingKey = (routingId: Buffer) => routingId.toString("latin1");

export class Users {
  private readonly byRouting = new Map<string, User>();
  private readonly byKey = new Map<string, User>();

  get size(): number {
    return this.byRouting.size;
  }

  add(user: User): void {
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
      .map((user) => ({ name: user.name, role: user.role, state: "joined" as const, latency: user.latency }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
