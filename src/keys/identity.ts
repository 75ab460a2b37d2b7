/**
 * A person's own keypair as a pair of zcert files, NAME.key and NAME.key_secret,
 * the layout pyzmq's zmq.auth.create_certificates writes and load_certificate reads.
 */
import path from "node:path";
import { KeyStoreError } from "./errors.js";
import { PUBLIC_FILE_MODE, SECRET_FILE_MODE, checkSecretFileMode, readTextIfExists, writeFileAtomic } from "./files.js";
import { publicKeyOf, type KeyPair } from "./keypair.js";
import { formatCertificate, parseCertificate } from "./zcert.js";

export async function writeIdentity(dir: string, name: string, pair: KeyPair): Promise<{ publicFile: string; secretFile: string }> {
  const publicFile = path.join(dir, `${name}.key`);
  const secretFile = `${publicFile}_secret`;
  const metadata = { name, created: new Date().toISOString() };
  await writeFileAtomic(secretFile, formatCertificate({ ...pair, metadata }), SECRET_FILE_MODE, { exclusive: true });
  await writeFileAtomic(publicFile, formatCertificate({ publicKey: pair.publicKey, metadata }), PUBLIC_FILE_MODE, {
    exclusive: true,
  });
  return { publicFile, secretFile };
}

/** Reads a secret certificate, refusing one that others can read. */
export async function readIdentity(secretFile: string): Promise<KeyPair> {
  const text = await readTextIfExists(secretFile);
  if (text === null) throw new KeyStoreError(`There is no key file at ${secretFile}.`);
  await checkSecretFileMode(secretFile);
  const cert = parseCertificate(text);
  if (typeof cert === "string") throw new KeyStoreError(`${secretFile} is not a certificate: ${cert}.`);
  if (cert.secretKey === undefined) throw new KeyStoreError(`${secretFile} holds no secret key.`);
  if ((await publicKeyOf(cert.secretKey)) !== cert.publicKey)
    throw new KeyStoreError(`${secretFile} is damaged: its public key does not belong to its secret key.`);
  return { publicKey: cert.publicKey, secretKey: cert.secretKey };
}

/** The public key in a certificate file (public or secret). */
export async function readPublicKey(file: string): Promise<string> {
  const text = await readTextIfExists(file);
  if (text === null) throw new KeyStoreError(`There is no key file at ${file}.`);
  const cert = parseCertificate(text);
  if (typeof cert === "string") throw new KeyStoreError(`${file} is not a certificate: ${cert}.`);
  return cert.publicKey;
}
