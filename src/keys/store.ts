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
  writableByOthers,
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
   * could not be read (EACCES, EMFILE, ...), so that what it says is unknown; a store folder that
   * others can write to, so that anyone may have put anything in it. Empty when the store is in
   * order. AllowlistWatcher fails closed on them.
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
   * nothing; so do, in allowed/, a numbered copy (NAME~2.key: a name has one file) and every file
   * of a key that two files hold. A folder others can write to, one that cannot be listed and a
   * file that cannot be read are faults (see AllowlistSnapshot). Never throws for what it finds
   * on disk.
   */
  async readAllowlist(): Promise<AllowlistSnapshot> {
    const { snapshot } = await this.read();
    return snapshot;
  }

  /** readAllowlist, and every certificate in allowed/ (whether it grants or not) and in revoked/. */
  private async read(): Promise<{ snapshot: AllowlistSnapshot; allowedFiles: KeyFile[]; revokedFiles: KeyFile[] }> {
    const problems: string[] = [];
    const faults: string[] = [];
    const modeFault = await writableFolderFault(this.dir);
    if (modeFault) faults.push(modeFault);
    const allowedFiles = await this.readFolder(this.allowedDir, problems, faults);
    const revokedFiles = await this.readFolder(this.revokedDir, problems, faults);
    const allowlist = new Allowlist(granting(allowedFiles, problems), revokedFiles.map((file) => file.entry));
    return { snapshot: { allowlist, problems, faults }, allowedFiles, revokedFiles };
  }

  /** Every certificate in a key folder, with the name its file gives it (NAME.key, or NAME~N.key). */
  private async readFolder(dir: string, problems: string[], faults: string[]): Promise<KeyFile[]> {
    let names: string[];
    try {
      const modeFault = await writableFolderFault(dir);
      if (modeFault) faults.push(modeFault);
      names = (await fs.readdir(dir)).filter((name) => name.endsWith(KEY_SUFFIX)).sort();
    } catch (error) {
      if (isCode(error, "ENOENT")) return [];
      faults.push(`${dir} cannot be listed (${codeOf(error)})`);
      return [];
    }
    const files: KeyFile[] = [];
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
        const base = fileName.slice(0, -KEY_SUFFIX.length);
        const name = base.replace(/~\d+$/, "");
        files.push({ file, numbered: name !== base, entry: entryFromCertificate(cert, name) });
      } catch (error) {
        if (!(error instanceof KeyStoreError)) throw error;
        problems.push(`${file} is ignored: ${error.message.replace(/\.$/, "")}.`);
      }
    }
    return files;
  }

  async allow(name: string, publicKey: string, options: { role: Role; expires: string | null }): Promise<KeyEntry> {
    await this.requireExisting();
    checkName(name);
    const { snapshot, allowedFiles, revokedFiles } = await this.read();
    // What cannot be read may already hold the name or the key; and a running server would not admit it.
    if (snapshot.faults.length > 0)
      throw new KeyStoreError(`The key store is not in order (${snapshot.faults[0]}); fix that first, nothing was changed.`);
    // Every file counts, granting or not: another one would only make a name or a key ambiguous.
    const named = allowedFiles.find((file) => file.entry.name === name);
    if (named && !named.numbered)
      throw new KeyStoreError(`A key named ${name} is already allowed; revoke it first or choose another name.`);
    if (named)
      throw new KeyStoreError(`${named.file} already names ${name} (it grants nothing); revoke ${name} first or choose another name.`);
    const holder = allowedFiles.find((file) => file.entry.publicKey === publicKey);
    if (holder && snapshot.allowlist.status(publicKey).state === "revoked")
      throw new KeyStoreError(`That key is revoked, and ${holder.file} still holds it; remove that file, then allow the key again.`);
    if (holder) throw new KeyStoreError(`That key is already allowed as ${holder.entry.name}.`);
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
    await forgetRevocations(revokedFiles, publicKey);
    return entry;
  }

  /**
   * Revokes every key that allowed/ ties to a name (NAME.key, and any NAME~N.key put there by
   * hand) or to a fingerprint (every file that holds it), whether the file grants or not, so that
   * nothing of it is left to be allowed. Each revoked copy is written before its allowed file goes.
   */
  async revoke(nameOrFingerprint: string): Promise<KeyEntry[]> {
    await this.requireExisting();
    const byFingerprint = looksLikeFingerprint(nameOrFingerprint);
    if (!byFingerprint && nameOrFingerprint.startsWith("SHA256:"))
      throw new KeyStoreError(`${nameOrFingerprint} is not a fingerprint: those are SHA256: and 43 characters of base64.`);
    if (!byFingerprint) checkName(nameOrFingerprint); // "", "../x": no file could be named so
    const { snapshot, allowedFiles } = await this.read();
    const targets = allowedFiles.filter((file) =>
      byFingerprint ? file.entry.fingerprint === nameOrFingerprint : file.entry.name === nameOrFingerprint,
    );
    if (targets.length === 0) {
      const [fault] = snapshot.faults;
      const unread = fault ? ` (though the key store is not in order: ${fault})` : "";
      throw new KeyStoreError(`No allowed key is named or fingerprinted ${nameOrFingerprint}${unread}; see: curvehost keys`);
    }
    await ensurePrivateDir(this.revokedDir);
    const revoked: KeyEntry[] = [];
    for (const { file, entry } of targets) {
      const copy = { ...entry, revoked: new Date().toISOString() };
      await writeFileAtomic(await this.freeRevokedFile(entry.name), formatCertificate(entryToCertificate(copy)), PUBLIC_FILE_MODE, {
        exclusive: true,
      });
      await fs.rm(file, { force: true });
      revoked.push(copy);
    }
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
      if (!(await exists(file))) return file;
    }
  }
}

/** A certificate read from a key folder. */
interface KeyFile {
  file: string;
  /** NAME~N.key: a numbered copy, which in allowed/ grants nothing. */
  numbered: boolean;
  entry: KeyEntry;
}

/**
 * The allowed/ files that grant: one file for a name (NAME.key) and one file for a key. A
 * numbered copy, and every file of a key that another file holds too, is reported and grants
 * nothing: which of them would the host mean, with which name and role?
 */
function granting(files: KeyFile[], problems: string[]): KeyEntry[] {
  const byKey = new Map<string, KeyFile[]>();
  for (const file of files) {
    if (file.numbered) {
      problems.push(`${file.file} is ignored: a name has one file in allowed/, ${file.entry.name}${KEY_SUFFIX}; numbered copies belong in revoked/.`);
      continue;
    }
    byKey.set(file.entry.publicKey, [...(byKey.get(file.entry.publicKey) ?? []), file]);
  }
  const entries: KeyEntry[] = [];
  for (const holders of byKey.values()) {
    if (holders.length === 1) entries.push(holders[0]!.entry);
    else for (const { file } of holders) {
      const others = holders.filter((other) => other.file !== file).map((other) => path.basename(other.file));
      problems.push(`${file} is ignored: ${others.join(" and ")} holds the same key; keep one of them.`);
    }
  }
  return entries;
}

/** Removes the revoked/ files, as read with the rest of the store, that hold `publicKey`. */
async function forgetRevocations(revokedFiles: KeyFile[], publicKey: string): Promise<void> {
  for (const { file, entry } of revokedFiles) {
    if (entry.publicKey === publicKey) await fs.rm(file, { force: true });
  }
}

/** Whether anything is at `file`: a file, a folder, a FIFO, a dangling link. */
async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (error) {
    if (isCode(error, "ENOENT")) return false;
    throw error;
  }
}

/** The fault of a store folder that others can write to: they could plant or remove keys. Null if it cannot be stat'ed (listing it says why). */
async function writableFolderFault(dir: string): Promise<string | null> {
  const stat = await fs.stat(dir).catch(() => null);
  return stat ? writableByOthers(dir, stat) : null;
}
