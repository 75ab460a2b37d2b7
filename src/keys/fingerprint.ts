import { createHash } from "node:crypto";
import { z85Decode } from "./z85.js";

/**
 * `SHA256:` + unpadded base64 of the SHA-256 of the raw 32-byte key, as ssh prints
 * fingerprints. node:crypto is used because libsodium-wrappers' standard build has
 * no SHA-256.
 */
export function fingerprint(publicKeyZ85: string): string {
  const raw = z85Decode(publicKeyZ85);
  if (!raw) throw new RangeError("not a Z85 key");
  return "SHA256:" + createHash("sha256").update(raw).digest("base64").replace(/=+$/, "");
}

export function looksLikeFingerprint(text: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(text);
}
