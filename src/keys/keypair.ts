import { loadSodium } from "./sodium.js";
import { z85Decode, z85Encode } from "./z85.js";

/** A CURVE keypair in Z85, the form zeromq and zcert files use. */
export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const sodium = await loadSodium();
  const pair = sodium.crypto_box_keypair();
  return { publicKey: z85Encode(pair.publicKey), secretKey: z85Encode(pair.privateKey) };
}

/** The public key that belongs to a secret key, or null if the secret is not a key. */
export async function publicKeyOf(secretKeyZ85: string): Promise<string | null> {
  const secret = z85Decode(secretKeyZ85);
  if (!secret || secret.length !== 32) return null;
  const sodium = await loadSodium();
  return z85Encode(sodium.crypto_scalarmult_base(secret));
}
