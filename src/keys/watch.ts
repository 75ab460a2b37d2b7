/**
 * Keeps a live Allowlist for a running server. Polls the store's two folders
 * (cheap: one stat per file) so that `allow`, `revoke`, a hand edit or an atomic
 * replacement takes effect within one interval, whatever fs.watch would miss.
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

export const WATCH_INTERVAL_MS = 500;

export class AllowlistWatcher {
  private timer: NodeJS.Timeout | undefined;
  private signature = "";
  private secretWarned = false;
  private running = false;

  constructor(
    private readonly store: KeyStore,
    private readonly events: WatchEvents,
    private readonly intervalMs = WATCH_INTERVAL_MS,
  ) {}

  /** Reads the allowlist once and starts watching; returns what was read. */
  async start(): Promise<Allowlist> {
    this.signature = await this.currentSignature();
    const { allowlist, problems } = await this.store.readAllowlist();
    for (const problem of problems) this.events.onWarning(problem);
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
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
      const signature = await this.currentSignature();
      if (signature === this.signature) return;
      this.signature = signature;
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

  /** Names, sizes and modification times of every file in allowed/ and revoked/. */
  private async currentSignature(): Promise<string> {
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
