/**
 * The key store: the only code that reads or writes key files.
 *
 *   DIR/server.key            the server's public certificate
 *   DIR/server.key_secret     the server's secret certificate (0600)
 *   DIR/allowed/NAME.key      one public certificate per allowed client
 *   DIR/revoked/NAME.key      revoked certificates, kept so a revocation is remembered
 *   DIR/invites/NAME.invite   invites written by `curvehost invite` (0600 when they hold a secret)
 *   DIR/seen.json             when each key last joined, kept by the server
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { Allowlist } from "./allowlist.js";
import { entryFromCertificate, entryToCertificate, type KeyEntry, type Role } from "./entry.js";
import { KeyStoreError } from "./errors.js";
import {
  PUBLIC_FILE_MODE,
  SECRET_FILE_MODE,
  checkSecretFileMode,
  checkStoreDirMode,
  codeOf,
  ensurePrivateDir,
  isCode,
  readKeyFile,
  readTextIfExists,
  writeFileAtomic,
} from "./files.js";
import { fingerprint, looksLikeFingerprint } from "./fingerprint.js";
import { generateKeyPair, publicKeyOf, type KeyPair } from "./keypair.js";
import { checkName } from "./names.js";
import { formatCertificate, parseCertificate } from "./zcert.js";

export const DEFAULT_KEY_DIR = "keys";
const KEY_SUFFIX = ".key";
const STORE_GITIGNORE = "# Written by curvehost: nothing in a key store belongs in git.\n*\n!.gitignore\n!README.md\n";

export interface AllowlistSnapshot {
  allowlist: Allowlist;
  /** Files that are not valid certificates; each grants nothing. */
  problems: string[];
  /**
   * Why this reading cannot be trusted whole: a folder that could not be listed or a file that
   * could not be read (EACCES, EMFILE, ...), so that what it says is unknown. Empty when the
   * store read cleanly. AllowlistWatcher fails closed on them.
   */
  faults: string[];
}

export class KeyStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  get serverPublicFile(): string {
    return path.join(this.dir, "server.key");
  }
  get serverSecretFile(): string {
    return path.join(this.dir, "server.key_secret");
  }
  get allowedDir(): string {
    return path.join(this.dir, "allowed");
  }
  get revokedDir(): string {
    return path.join(this.dir, "revoked");
  }
  get invitesDir(): string {
    return path.join(this.dir, "invites");
  }
  private get seenFile(): string {
    return path.join(this.dir, "seen.json");
  }

  async exists(): Promise<boolean> {
    return (await readTextIfExists(this.serverPublicFile)) !== null;
  }

  async requireExisting(): Promise<void> {
    if (!(await this.exists()))
      throw new KeyStoreError(`There is no key store in ${this.dir}; run: curvehost init --keys ${this.dir}`);
  }

  /** Creates the store and the server keypair. Refuses to touch an existing store. */
  async create(): Promise<KeyPair> {
    if (await this.exists())
      throw new KeyStoreError(`A key store already exists in ${this.dir}; it was left as it is.`);
    await ensurePrivateDir(this.dir);
    for (const dir of [this.allowedDir, this.revokedDir, this.invitesDir]) await ensurePrivateDir(dir);
    if ((await readTextIfExists(path.join(this.dir, ".gitignore"))) === null)
      await writeFileAtomic(path.join(this.dir, ".gitignore"), STORE_GITIGNORE, PUBLIC_FILE_MODE);
    const server = await generateKeyPair();
    await this.writeServerKeys(server, { exclusive: true });
    return server;
  }

  /** The server's keypair, after the checks a secret deserves. */
  async serverKeys(): Promise<KeyPair> {
    await this.requireExisting();
    await checkStoreDirMode(this.dir);
    const secretText = await readTextIfExists(this.serverSecretFile);
    if (secretText === null)
      throw new KeyStoreError(`${this.serverSecretFile} is missing; the server cannot start without its secret key.`);
    await checkSecretFileMode(this.serverSecretFile);
    const cert = parseCertificate(secretText);
    if (typeof cert === "string") throw new KeyStoreError(`${this.serverSecretFile} is not a certificate: ${cert}.`);
    if (cert.secretKey === undefined) throw new KeyStoreError(`${this.serverSecretFile} holds no secret-key.`);
    if ((await publicKeyOf(cert.secretKey)) !== cert.publicKey)
      throw new KeyStoreError(`${this.serverSecretFile} is damaged: its public key does not belong to its secret key.`);
    const publicKey = await this.serverPublicKey();
    if (publicKey !== cert.publicKey)
      throw new KeyStoreError(`${this.serverPublicFile} and ${this.serverSecretFile} hold different keys.`);
    return { publicKey, secretKey: cert.secretKey };
  }

  async serverPublicKey(): Promise<string> {
    const text = await readTextIfExists(this.serverPublicFile);
    if (text === null) await this.requireExisting();
    const cert = parseCertificate(text ?? "");
    if (typeof cert === "string") throw new KeyStoreError(`${this.serverPublicFile} is not a certificate: ${cert}.`);
    return cert.publicKey;
  }

  /** Replaces the server keypair. Every client needs the new public key afterwards. */
  async rotate(): Promise<{ previous: string; next: KeyPair }> {
    const previous = (await this.serverKeys()).publicKey;
    const next = await generateKeyPair();
    await this.writeServerKeys(next, { exclusive: false });
    return { previous, next };
  }

  private async writeServerKeys(pair: KeyPair, { exclusive }: { exclusive: boolean }): Promise<void> {
    const metadata = { name: "server", created: new Date().toISOString() };
    // The secret first: a crash between the two writes leaves a mismatch serverKeys() reports.
    await writeFileAtomic(this.serverSecretFile, formatCertificate({ ...pair, metadata }), SECRET_FILE_MODE, {
      exclusive,
    });
    await writeFileAtomic(this.serverPublicFile, formatCertificate({ publicKey: pair.publicKey, metadata }), PUBLIC_FILE_MODE, {
      exclusive,
    });
  }

  /**
   * Reads allowed/ and revoked/. A file that is not a valid certificate is reported and grants
   * nothing; one that cannot be read at all is a fault (see AllowlistSnapshot). Never throws for
   * what it finds on disk.
   */
  async readAllowlist(): Promise<AllowlistSnapshot> {
    const problems: string[] = [];
    const faults: string[] = [];
    const allowed = await this.readEntries(this.allowedDir, problems, faults);
    const revoked = await this.readEntries(this.revokedDir, problems, faults);
    return { allowlist: new Allowlist(allowed, revoked), problems, faults };
  }

  private async readEntries(dir: string, problems: string[], faults: string[]): Promise<KeyEntry[]> {
    let names: string[];
    try {
      names = (await fs.readdir(dir)).filter((name) => name.endsWith(KEY_SUFFIX)).sort();
    } catch (error) {
      if (isCode(error, "ENOENT")) return [];
      faults.push(`${dir} cannot be listed (${codeOf(error)})`);
      return [];
    }
    const entries: KeyEntry[] = [];
    for (const fileName of names) {
      const file = path.join(dir, fileName);
      try {
        let text: string | null;
        try {
          text = await readKeyFile(file);
        } catch (error) {
          if (error instanceof KeyStoreError) throw error;
          faults.push(`${file} cannot be read (${codeOf(error)})`);
          continue;
        }
        if (text === null) continue; // removed while we listed
        const cert = parseCertificate(text);
        if (typeof cert === "string") throw new KeyStoreError(cert);
        if (cert.secretKey !== undefined) throw new KeyStoreError("it holds a secret key, which never belongs in the allowlist");
        entries.push(entryFromCertificate(cert, fileName.slice(0, -KEY_SUFFIX.length).replace(/~\d+$/, "")));
      } catch (error) {
        if (!(error instanceof KeyStoreError)) throw error;
        problems.push(`${file} is ignored: ${error.message.replace(/\.$/, "")}.`);
      }
    }
    return entries;
  }

  async allow(name: string, publicKey: string, options: { role: Role; expires: string | null }): Promise<KeyEntry> {
    await this.requireExisting();
    checkName(name);
    const { allowlist, faults } = await this.readAllowlist();
    // What cannot be read may already hold the name or the key; and a running server would not admit it.
    if (faults.length > 0)
      throw new KeyStoreError(`The key store cannot be read whole (${faults[0]}); fix that first, nothing was changed.`);
    if (allowlist.entries().some((entry) => entry.name === name))
      throw new KeyStoreError(`A key named ${name} is already allowed; revoke it first or choose another name.`);
    const status = allowlist.status(publicKey);
    if (status.state === "allowed" || status.state === "expired")
      throw new KeyStoreError(`That key is already allowed as ${status.entry.name}.`);
    if (publicKey === (await this.serverPublicKey()))
      throw new KeyStoreError("That is the server's own public key, not a client's.");
    const entry: KeyEntry = {
      name,
      role: options.role,
      publicKey,
      fingerprint: fingerprint(publicKey),
      created: new Date().toISOString(),
      expires: options.expires,
      revoked: null,
    };
    await writeFileAtomic(this.allowedFile(name), formatCertificate(entryToCertificate(entry)), PUBLIC_FILE_MODE, {
      exclusive: true,
    });
    // Allowing a revoked key again is the one way to lift its revocation.
    if (status.state === "revoked") await this.forgetRevocations(publicKey);
    return entry;
  }

  /** Moves an allowed key to revoked/. The revoked copy is written before the allowed one goes. */
  async revoke(nameOrFingerprint: string): Promise<KeyEntry> {
    await this.requireExisting();
    const { allowlist } = await this.readAllowlist();
    const entry = allowlist
      .entries()
      .find((candidate) =>
        looksLikeFingerprint(nameOrFingerprint)
          ? candidate.fingerprint === nameOrFingerprint
          : candidate.name === nameOrFingerprint,
      );
    if (!entry) throw new KeyStoreError(`No allowed key is named or fingerprinted ${nameOrFingerprint}; see: curvehost keys`);
    const revoked = { ...entry, revoked: new Date().toISOString() };
    await ensurePrivateDir(this.revokedDir);
    await writeFileAtomic(await this.freeRevokedFile(entry.name), formatCertificate(entryToCertificate(revoked)), PUBLIC_FILE_MODE, {
      exclusive: true,
    });
    await fs.rm(this.allowedFile(entry.name), { force: true });
    return revoked;
  }

  async lastSeen(): Promise<Record<string, string>> {
    const text = await readTextIfExists(this.seenFile);
    if (text === null) return {};
    try {
      const parsed: unknown = JSON.parse(text);
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
        ? Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string"))
        : {};
    } catch {
      return {};
    }
  }

  /** Records when keys (by fingerprint) were last seen joining. */
  async recordSeen(seen: Record<string, string>): Promise<void> {
    const merged = { ...(await this.lastSeen()), ...seen };
    await writeFileAtomic(this.seenFile, JSON.stringify(merged, null, 2) + "\n", PUBLIC_FILE_MODE);
  }

  inviteFile(name: string): string {
    return path.join(this.invitesDir, `${checkName(name)}.invite`);
  }

  private allowedFile(name: string): string {
    return path.join(this.allowedDir, `${checkName(name)}${KEY_SUFFIX}`);
  }

  /** revoked/NAME.key, or NAME~2.key and so on when the name was revoked before. */
  private async freeRevokedFile(name: string): Promise<string> {
    for (let n = 1; ; n++) {
      const file = path.join(this.revokedDir, n === 1 ? `${name}${KEY_SUFFIX}` : `${name}~${n}${KEY_SUFFIX}`);
      if ((await readTextIfExists(file)) === null) return file;
    }
  }

  private async forgetRevocations(publicKey: string): Promise<void> {
    for (const fileName of await fs.readdir(this.revokedDir)) {
      const file = path.join(this.revokedDir, fileName);
      const cert = parseCertificate((await readTextIfExists(file)) ?? "");
      if (typeof cert !== "string" && cert.publicKey === publicKey) await fs.rm(file, { force: true });
    }
  }
}

