/** One allowlist entry: a client's public key with the metadata the host gave it. */
import { fingerprint } from "./fingerprint.js";
import type { Certificate } from "./zcert.js";
import { checkName } from "./names.js";
import { KeyStoreError } from "./errors.js";

export const ROLES = ["admin", "member"] as const;
export type Role = (typeof ROLES)[number];

export interface KeyEntry {
  name: string;
  role: Role;
  publicKey: string;
  fingerprint: string;
  created: string;
  /** ISO time after which the key is refused; null for never. */
  expires: string | null;
  /** ISO time of revocation, for entries in revoked/. */
  revoked: string | null;
}

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export function entryToCertificate(entry: KeyEntry): Certificate {
  const metadata: Record<string, string> = { name: entry.name, role: entry.role, created: entry.created };
  if (entry.expires) metadata["expires"] = entry.expires;
  if (entry.revoked) metadata["revoked"] = entry.revoked;
  return { publicKey: entry.publicKey, metadata };
}

/** Reads an entry back from a certificate; the file name is the authority on the name. */
export function entryFromCertificate(cert: Certificate, fileName: string): KeyEntry {
  const name = checkName(fileName);
  const meta = cert.metadata;
  const role = meta["role"] ?? "member";
  if (!isRole(role)) throw new KeyStoreError(`its role "${role}" is neither admin nor member`);
  const expires = meta["expires"] ? checkIsoTime(meta["expires"], "expires") : null;
  const revoked = meta["revoked"] ? checkIsoTime(meta["revoked"], "revoked") : null;
  return {
    name,
    role,
    publicKey: cert.publicKey,
    fingerprint: fingerprint(cert.publicKey),
    created: meta["created"] ?? "",
    expires,
    revoked,
  };
}

function checkIsoTime(value: string, field: string): string {
  if (Number.isNaN(Date.parse(value))) throw new KeyStoreError(`its ${field} "${value}" is not a date`);
  return value;
}

/**
 * Parses `--expires`: an ISO date (valid through the end of that day, UTC), an ISO
 * date and time, or a span from now such as 12h, 7d or 4w. It must lie in the future.
 */
export function parseExpiry(text: string, now = new Date()): string {
  const span = /^(\d{1,5})([hdw])$/.exec(text);
  let time: number;
  if (span) {
    const hours = { h: 1, d: 24, w: 24 * 7 }[span[2] as "h" | "d" | "w"];
    time = now.getTime() + Number(span[1]) * hours * 3_600_000;
  } else if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    time = Date.parse(`${text}T23:59:59.999Z`);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    time = Date.parse(text);
  } else {
    time = NaN;
  }
  if (Number.isNaN(time))
    throw new KeyStoreError(`"${text}" is not an expiry: give a date (2026-12-31), a date and time, or a span (12h, 7d, 4w).`);
  if (time <= now.getTime()) throw new KeyStoreError(`The expiry ${text} is already past.`);
  return new Date(time).toISOString();
}
