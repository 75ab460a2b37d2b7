/**
 * An invite: one JSON file with everything a collaborator needs to connect —
 * where the server is, the server's public key, and their own keypair (or only
 * their public key, for a collaborator who made their own with `keygen`).
 */
import { MAX_BASE_PORT } from "../protocol/ports.js";
import { KeyStoreError } from "./errors.js";
import { PUBLIC_FILE_MODE, SECRET_FILE_MODE, readTextIfExists, writeFileAtomic } from "./files.js";
import { fingerprint } from "./fingerprint.js";
import { isRole, type Role } from "./entry.js";
import { publicKeyOf } from "./keypair.js";
import { isZ85Key } from "./z85.js";

export const INVITE_FORMAT = "curvehost-invite";
export const INVITE_VERSION = 1;

export interface Invite {
  name: string;
  role: Role;
  server: { host: string; port: number; publicKey: string; fingerprint: string };
  client: { publicKey: string; secretKey?: string };
}

const SECRET_WARNING =
  "This file holds a secret key. Anyone who has it can join the session as you: keep it private and do not share it.";

export function formatInvite(invite: Invite): string {
  const document = {
    format: INVITE_FORMAT,
    version: INVITE_VERSION,
    ...(invite.client.secretKey !== undefined ? { warning: SECRET_WARNING } : {}),
    ...invite,
  };
  return JSON.stringify(document, null, 2) + "\n";
}

export function checkHost(host: string): string {
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host) && !/^\[[0-9A-Fa-f:.]+\]$/.test(host))
    throw new KeyStoreError(`"${host}" is not a host name or address.`);
  return host;
}

export function checkBasePort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > MAX_BASE_PORT)
    throw new KeyStoreError(`The port must be a whole number from 1 to ${MAX_BASE_PORT} (the server uses it and the next three).`);
  return port;
}

/** Parses and checks an invite; throws a KeyStoreError that says what is wrong with it. */
export async function parseInvite(text: string, source: string): Promise<Invite> {
  const fail = (why: string): never => {
    throw new KeyStoreError(`${source} is not a usable invite: ${why}.`);
  };
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    fail("it is not JSON");
  }
  const doc = document as Record<string, any>;
  if (typeof doc !== "object" || doc === null || doc["format"] !== INVITE_FORMAT) fail("it is not a curvehost invite");
  if (doc["version"] !== INVITE_VERSION) fail(`it is version ${String(doc["version"])}, this curvehost reads version ${INVITE_VERSION}`);
  const { name, role, server, client } = doc;
  if (typeof name !== "string" || name.length === 0) fail("it has no name");
  if (!isRole(role)) fail("its role is neither admin nor member");
  if (typeof server !== "object" || server === null) fail("it has no server");
  if (typeof server.host !== "string") fail("it has no server host");
  try {
    checkHost(server.host);
    checkBasePort(server.port);
  } catch (error) {
    fail((error as Error).message.replace(/\.$/, ""));
  }
  if (!isZ85Key(server.publicKey)) fail("its server public key is not a Z85 key");
  if (typeof client !== "object" || client === null || !isZ85Key(client.publicKey)) fail("its client public key is not a Z85 key");
  if (client.secretKey !== undefined) {
    if (!isZ85Key(client.secretKey)) fail("its client secret key is not a Z85 key");
    if ((await publicKeyOf(client.secretKey)) !== client.publicKey) fail("its client secret key does not match its public key");
  }
  return {
    name,
    role,
    server: { host: server.host, port: server.port, publicKey: server.publicKey, fingerprint: fingerprint(server.publicKey) },
    client: client.secretKey === undefined ? { publicKey: client.publicKey } : { publicKey: client.publicKey, secretKey: client.secretKey },
  };
}

export async function readInvite(file: string): Promise<Invite> {
  let text: string | null;
  try {
    text = await readTextIfExists(file);
  } catch (error) {
    throw new KeyStoreError(`${file} cannot be read: ${(error as Error).message}.`);
  }
  if (text === null) throw new KeyStoreError(`There is no invite at ${file}.`);
  return parseInvite(text, file);
}

/** An invite that holds a secret is written 0600, like any other secret. */
export async function writeInvite(file: string, invite: Invite): Promise<void> {
  const mode = invite.client.secretKey !== undefined ? SECRET_FILE_MODE : PUBLIC_FILE_MODE;
  await writeFileAtomic(file, formatInvite(invite), mode);
}
