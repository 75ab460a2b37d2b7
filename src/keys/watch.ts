/**
 * Keeps a live Allowlist for a running server, by polling rather than fs.watch
 * (which misses changes on some file systems and mounts), in two tiers:
 * - every interval, one stat of each of the two folders. `allow` and `revoke`
 *   write through a rename (files.ts), which changes the folder, so they take
 *   effect within one interval;
 * - every few intervals, a stat of every key file, for what leaves its folder
 *   as it was: a hand edit in place, or a file system whose folder times are
 *   too coarse to tell two changes apart.
 * Statting every file every interval took about 6 % of a busy server's main
 * thread with the bench's 265 keys (README, Performance).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Allowlist } from "./allowlist.js";
import { checkSecretFileMode } from "./files.js";
import type { KeyStore } from "./store.js";

export interface WatchEvents {
  /** A new allowlist, after any change to allowed/ or revoked/. */
  onChange(allowlist: Allowlist, problems: string[]): void;
  /** Something the host must fix, e.g. the secret made readable by others. */
  onWarning(message: string): void;
}

export interface WatchTiming {
  /** How often the folders (and the server secret's mode) are checked. */
  intervalMs: number;
  /** Every how many intervals every key file is checked too. */
  filesEvery: number;
}

/** Folders every 0.5 s, files every 1.5 s: both inside the 2 s in which a revocation must take effect. */
export const WATCH_TIMING: WatchTiming = { intervalMs: 500, filesEvery: 3 };

export class AllowlistWatcher {
  private timer: NodeJS.Timeout | undefined;
  private folders = "";
  private files = "";
  /** Intervals since every file was last checked. */
  private sinceFiles = 0;
  private secretWarned = false;
  private running = false;

  constructor(
    private readonly store: KeyStore,
    private readonly events: WatchEvents,
    private readonly timing: WatchTiming = WATCH_TIMING,
  ) {}

  /** Reads the allowlist once and starts watching; returns what was read. */
  async start(): Promise<Allowlist> {
    this.folders = await this.folderSignature();
    this.files = await this.fileSignature();
    const { allowlist, problems } = await this.store.readAllowlist();
    for (const problem of problems) this.events.onWarning(problem);
    this.timer = setInterval(() => void this.poll(), this.timing.intervalMs);
    this.timer.unref();
    return allowlist;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.checkSecret();
      // The folders are read before the files, so that a change made while the files are read shows next time.
      const folders = await this.folderSignature();
      if (folders === this.folders && ++this.sinceFiles < this.timing.filesEvery) return;
      this.folders = folders;
      this.sinceFiles = 0;
      const files = await this.fileSignature();
      if (files === this.files) return;
      this.files = files;
      const { allowlist, problems } = await this.store.readAllowlist();
      this.events.onChange(allowlist, problems);
    } catch (error) {
      this.events.onWarning(`The key store could not be read: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private async checkSecret(): Promise<void> {
    try {
      await checkSecretFileMode(this.store.serverSecretFile);
      this.secretWarned = false;
    } catch (error) {
      if (!this.secretWarned) this.events.onWarning((error as Error).message);
      this.secretWarned = true;
    }
  }

  /** The two folders' modification times: any file added, removed or renamed in them changes these. */
  private async folderSignature(): Promise<string> {
    const parts: string[] = [];
    for (const dir of [this.store.allowedDir, this.store.revokedDir]) {
      try {
        const stat = await fs.stat(dir);
        parts.push(`${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}`);
      } catch {
        parts.push("absent");
      }
    }
    return parts.join("\n");
  }

  /** Names, sizes and modification times of every file in allowed/ and revoked/. */
  private async fileSignature(): Promise<string> {
    const parts: string[] = [];
    for (const dir of [this.store.allowedDir, this.store.revokedDir]) {
      let names: string[] = [];
      try {
        names = (await fs.readdir(dir)).sort();
      } catch {
        parts.push(`${dir}:absent`);
        continue;
      }
      for (const name of names) {
        try {
          const stat = await fs.stat(path.join(dir, name));
          parts.push(`${dir}/${name}:${stat.size}:${stat.mtimeMs}:${stat.ino}`);
        } catch {
          // removed between readdir and stat; the next poll sees the folder as it is
        }
      }
    }
    return parts.join("\n");
  }
}
