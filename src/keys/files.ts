/**
 * File primitives of the key store: atomic writes, private modes, and the
 * ssh-style refusal of a secret that others can read.
 */
import { randomBytes } from "node:crypto";
import { promises as fs, constants, type Stats } from "node:fs";
import path from "node:path";
import { KeyStoreError } from "./errors.js";

export const SECRET_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes through a temporary file and a rename, so that a reader (the running
 * server's watcher) sees the old file or the new one, never half of one.
 * With `exclusive`, refuses to replace an existing file.
 */
export async function writeFileAtomic(
  file: string,
  content: string,
  mode: number,
  { exclusive = false } = {},
): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await fs.open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode); // the umask may have narrowed or the mode argument been ignored
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (exclusive) {
      // link() fails if the target exists, unlike rename().
      await fs.link(temporary, file);
      await fs.unlink(temporary);
    } else {
      await fs.rename(temporary, file);
    }
  } catch (error) {
    await fs.rm(temporary, { force: true });
    if (isCode(error, "EEXIST")) throw new KeyStoreError(`${file} already exists; it was left as it is.`);
    throw error;
  }
}

export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await fs.chmod(dir, PRIVATE_DIR_MODE);
}

/** Refuses, as ssh does, a secret that group or others can read or write. */
export async function checkSecretFileMode(file: string): Promise<void> {
  const stat = await fs.stat(file);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
    throw new KeyStoreError(
      `${file} holds a secret key but others can access it (mode ${mode}); run: chmod 600 ${file}`,
    );
  }
}

/** A store directory others can write to lets them plant keys; refuse it. */
export async function checkStoreDirMode(dir: string): Promise<void> {
  const problem = writableByOthers(dir, await fs.stat(dir));
  if (problem) throw new KeyStoreError(`The key store ${problem}`);
}

/**
 * The sentence for a folder of the key store that group or others can write to, who could then
 * plant keys or remove revocations; null for one they cannot. Reading is not checked: the
 * folders hold public keys only.
 */
export function writableByOthers(dir: string, stat: Stats): string | null {
  if ((stat.mode & 0o022) === 0) return null;
  const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
  return `${dir} can be written by others (mode ${mode}); run: chmod 700 ${dir}`;
}

/** A certificate is a few hundred bytes: a file in the key folders far larger than that is not one. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Reads a file from a key folder (allowed/, revoked/): null if it is gone; a KeyStoreError for
 * what is plainly not a certificate, which grants nothing (a folder, a FIFO, a socket, a file
 * over MAX_KEY_FILE_BYTES); any other error as it is (EACCES, EIO, EMFILE, ELOOP...): then what
 * the file says is unknown. Opened without blocking, so that a FIFO cannot hang the reader.
 */
export async function readKeyFile(file: string): Promise<string | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (isCode(error, "ENOENT")) return null;
    if (isCode(error, "ENXIO")) throw new KeyStoreError("it is not a regular file"); // a socket
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new KeyStoreError("it is not a regular file");
    if (stat.size > MAX_KEY_FILE_BYTES)
      throw new KeyStoreError(`it is larger than ${MAX_KEY_FILE_BYTES / 1024} KiB, far too large for a certificate`);
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** The error code of a failed file operation (EACCES, ...), for a sentence. */
export function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

export async function readTextIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    if (isCode(error, "ENOENT")) return null;
    throw error;
  }
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}
