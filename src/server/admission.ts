/**
 * Who may connect (PROTOCOL.md §1): the ZAP decision for every handshake on
 * every port, the live allowlist and the users it no longer admits, the bans of
 * kicked keys, and when each key last joined (for `curvehost keys`).
 */
import type { Logger } from "pino";
import { fingerprint, type Allowlist, type KeyEntry, type KeyStatus, type KeyStore } from "../keys/index.js";
import { LogLimiter } from "./log-limiter.js";
import { SlidingWindow } from "./sliding-window.js";
import type { User, Users, RemovalReason } from "./users.js";
import type { ZapRequest, ZapVerdict } from "./zap.js";

/** A key's status, with the bans of kicks on top of the allowlist's. */
export type AdmissionStatus = KeyStatus | { state: "banned"; entry: KeyEntry; until: number };

const SEEN_FLUSH_MS = 1000;
/**
 * Joins one key may make in JOIN_WINDOW_MS. Each join of a key already joined, and
 * each departure, cuts every subscriber's connection (PROTOCOL.md §8), which they
 * must remake and resync: a key joining in a loop would cost everyone that.
 */
export const JOINS_PER_WINDOW = 3;
export const JOIN_WINDOW_MS = 10_000;

export class Admission {
  private allowlist: Allowlist;
  /** The address each key's last command-port handshake came from; for logs only. */
  private readonly addresses = new Map<string, string>();
  /** Kicked keys: refused until `until`, or until the host allows the key anew (a new `created`). */
  private readonly bans = new Map<string, { until: number; created: string }>();
  private stopping = false;
  /** Joins seen since the last write, written at most once a second, one write at a time. */
  private readonly seen = new Map<string, string>();
  private seenTimer: NodeJS.Timeout | undefined;
  private seenWriting: Promise<void> = Promise.resolve();
  /** Each key's joins in the last JOIN_WINDOW_MS, at most JOINS_PER_WINDOW. */
  private readonly joins = new SlidingWindow(JOIN_WINDOW_MS);
  /** Keys with a subscriber connection on the current subscriber socket: one each (PROTOCOL.md §8). */
  private readonly subscribers = new Set<string>();
  /** Told when a joined key completes a second subscriber handshake. */
  onSecondSubscriber: (user: User) => void = () => {};
  /** Refused handshakes, by the peer's address: a flood of them logs counts, not lines. */
  private readonly refusals: LogLimiter;

  constructor(
    allowlist: Allowlist,
    private readonly users: Users,
    private readonly store: KeyStore,
    private readonly kickBanMs: number,
    private readonly log: Logger,
  ) {
    this.allowlist = allowlist;
    this.refusals = new LogLimiter((source, count, seconds) =>
      log.warn({ event: "handshake_refused", source, count, seconds }, `${count} more handshakes refused in ${seconds} s`),
    );
  }

  /** Whether a key may join now, and why not. */
  status(publicKey: string, now = Date.now()): AdmissionStatus {
    const status = this.allowlist.status(publicKey, now);
    if (status.state !== "allowed") return status;
    const ban = this.bans.get(publicKey);
    if (!ban) return status;
    if (ban.until > now && ban.created === status.entry.created) return { state: "banned", entry: status.entry, until: ban.until };
    this.bans.delete(publicKey);
    return status;
  }

  /** The ZAP decision for one handshake. Every refusal is logged. */
  authorize(request: ZapRequest): ZapVerdict {
    const refuse = (reason: string, print?: string): ZapVerdict => {
      // By address: a flood from one place, however many keys it tries, logs counts.
      if (this.refusals.admit(request.address))
        this.log.warn({ event: "handshake_refused", domain: request.domain, address: request.address, fingerprint: print ?? null, reason }, "handshake refused");
      return { allow: false, reason };
    };
    if (request.mechanism !== "CURVE" || request.publicKey === null) return refuse(`mechanism ${request.mechanism || "none"}`);
    const print = fingerprint(request.publicKey);
    if (this.stopping) return refuse("server stopping", print);
    const status = this.status(request.publicKey);
    if (status.state !== "allowed") return refuse(`key ${status.state}`, print);
    if (request.domain === "command") {
      this.addresses.set(request.publicKey, request.address);
      return { allow: true, userId: status.entry.name };
    }
    if (request.domain === "subscriber" || request.domain === "publisher" || request.domain === "ttl") {
      const user = this.users.byPublicKey(request.publicKey);
      if (!user) return refuse("not joined", print);
      if (request.domain === "subscriber") {
        if (this.subscribers.has(request.publicKey)) this.onSecondSubscriber(user);
        else this.subscribers.add(request.publicKey);
      }
      return { allow: true, userId: status.entry.name };
    }
    return refuse(`unknown domain "${request.domain}"`, print);
  }

  /** The subscriber socket is being replaced: its connections, and their count, start over. */
  resetSubscribers(): void {
    this.subscribers.clear();
  }

  /** Takes a new allowlist; returns the joined users it no longer admits, with why. */
  update(allowlist: Allowlist): Array<{ user: User; reason: RemovalReason }> {
    this.allowlist = allowlist;
    const gone: Array<{ user: User; reason: RemovalReason }> = [];
    for (const user of this.users.all()) {
      const state = allowlist.status(user.publicKey).state;
      if (state === "allowed") continue;
      this.log.warn({ event: "revocation", user: user.name, fingerprint: user.fingerprint, state }, "key no longer allowed; user removed");
      gone.push({ user, reason: state === "expired" ? "expired" : "revoked" });
    }
    return gone;
  }

  /** Seconds this key must wait before it may join again, or 0 (and the join is counted). */
  joinWait(publicKey: string, now = Date.now()): number {
    return Math.ceil(this.joins.take(publicKey, JOINS_PER_WINDOW, now) / 1000);
  }

  /** Refuses a kicked user's key for the kick ban, unless the host allows it anew meanwhile. */
  ban(user: User): void {
    const status = this.allowlist.status(user.publicKey);
    if (status.state !== "allowed" || this.kickBanMs <= 0) return;
    this.bans.set(user.publicKey, { until: Date.now() + this.kickBanMs, created: status.entry.created });
  }

  peerAddress(publicKey: string): string {
    return this.addresses.get(publicKey) ?? "unknown";
  }

  /** Notes that a key joined now; written to the store in batches. */
  markSeen(print: string): void {
    this.seen.set(print, new Date().toISOString());
    if (this.seenTimer || this.stopping) return;
    this.seenTimer = setTimeout(() => {
      this.seenTimer = undefined;
      this.seenWriting = this.seenWriting.then(() => this.writeSeen());
    }, SEEN_FLUSH_MS);
  }

  /** Refuses every handshake from now on, and writes what is still noted. */
  async close(): Promise<void> {
    this.stopping = true;
    this.refusals.close();
    clearTimeout(this.seenTimer);
    await this.seenWriting;
    await this.writeSeen();
  }

  private async writeSeen(): Promise<void> {
    if (this.seen.size === 0) return;
    const batch = Object.fromEntries(this.seen);
    this.seen.clear();
    await this.store.recordSeen(batch).catch((error: Error) => this.log.warn({ event: "key_store", error: error.message }, "could not record when keys were last seen"));
  }
}
