/**
 * The join proof (PROTOCOL.md §3): crypto_box("curvehost/join" || R) from the
 * client's secret key to the server's public key. Opening it with the claimed
 * public key proves the sender holds that key's secret, and its plaintext binds
 * the key to the routing id R the join arrived from.
 */
import { JOIN_PROOF_CONTEXT, NONCE_BYTES } from "./limits.js";
import { loadSodium } from "../keys/sodium.js";
import { z85Decode } from "../keys/z85.js";

const CONTEXT = Buffer.from(JOIN_PROOF_CONTEXT, "utf8");

export type Sodium = Awaited<ReturnType<typeof loadSodium>>;

export function verifyJoinProof(
  sodium: Sodium,
  input: { routingId: Buffer; clientPublicKey: string; nonce: string; proof: string; serverSecretKey: string },
): boolean {
  const clientKey = z85Decode(input.clientPublicKey);
  const serverSecret = z85Decode(input.serverSecretKey);
  const nonce = Buffer.from(input.nonce, "base64");
  const proof = Buffer.from(input.proof, "base64");
  if (!clientKey || !serverSecret || nonce.length !== NONCE_BYTES || proof.length < sodium.crypto_box_MACBYTES) return false;
  let plain: Uint8Array;
  try {
    plain = sodium.crypto_box_open_easy(proof, nonce, clientKey, serverSecret);
  } catch {
    return false;
  }
  const expected = Buffer.concat([CONTEXT, input.routingId]);
  return plain.length === expected.length && sodium.memcmp(plain, expected);
}

/** The client's side: what a client sends as `nonce` and `proof` in its join. */
export function makeJoinProof(
  sodium: Sodium,
  input: { routingId: Buffer; clientSecretKey: string; serverPublicKey: string },
): { nonce: string; proof: string } {
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const message = Buffer.concat([CONTEXT, input.routingId]);
  const proof = sodium.crypto_box_easy(message, nonce, z85Decode(input.serverPublicKey)!, z85Decode(input.clientSecretKey)!);
  return { nonce: Buffer.from(nonce).toString("base64"), proof: Buffer.from(proof).toString("base64") };
}
