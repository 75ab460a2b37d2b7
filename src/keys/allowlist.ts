/**
 * The in-memory allowlist the server asks on every handshake: a map by key,
 * so a lookup costs the same with three keys or three thousand.
 */
import type { KeyEntry } from "./entry.js";

export type KeyStatus =
  | { state: "allowed"; entry: KeyEntry }
  | { state: "expired"; entry: KeyEntry }
  | { state: "revoked"; entry: KeyEntry }
  | { state: "unknown" };

export class Allowlist {
  private readonly allowed = new Map<string, KeyEntry>();
  private readonly revoked = new Map<string, KeyEntry>();

  constructor(allowed: Iterable<KeyEntry>, revoked: Iterable<KeyEntry>) {
    for (const entry of allowed) if (!this.allowed.has(entry.publicKey)) this.allowed.set(entry.publicKey, entry);
    for (const entry of revoked) this.revoked.set(entry.publicKey, entry);
  }

  /** A revocation wins over an allowed file for the same key: fail closed. */
  status(publicKey: string, now = Date.now()): KeyStatus {
    const revoked = this.revoked.get(publicKey);
    if (revoked) return { state: "revoked", entry: revoked };
    const entry = this.allowed.get(publicKey);
    if (!entry) return { state: "unknown" };
    if (entry.expires !== null && Date.parse(entry.expires) <= now) return { state: "expired", entry };
    return { state: "allowed", entry };
  }

  /**
   * What both this allowlist and `previous` allow — with the lesser role and the earlier expiry
   * of the two — and what either revokes: the allowlist to trust when this one was read from a
   * store that was not in order (AllowlistWatcher). A key is admitted by it only if it was
   * allowed before and its file still reads and allows it.
   */
  within(previous: Allowlist): Allowlist {
    const allowed: KeyEntry[] = [];
    for (const entry of this.allowed.values()) {
      const before = previous.allowed.get(entry.publicKey);
      if (!before || previous.revoked.has(entry.publicKey)) continue;
      allowed.push({
        ...entry,
        role: entry.role === "admin" && before.role === "admin" ? "admin" : "member",
        expires: earlier(entry.expires, before.expires),
      });
    }
    return new Allowlist(allowed, [...previous.revoked.values(), ...this.revoked.values()]);
  }

  entries(): KeyEntry[] {
    return [...this.allowed.values()];
  }

  revokedEntries(): KeyEntry[] {
    return [...this.revoked.values()];
  }
}

/** The earlier of two expiries, where null is never. */
function earlier(a: string | null, b: string | null): string | null {
  if (a === null || b === null) return a ?? b;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}
