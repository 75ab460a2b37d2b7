/**
 * Keeps a live Allowlist for a running server. The store is read again when the kernel reports
 * a change (fs.watch, inotify on Linux), so an idle server does no work at all. Watched:
 * - allowed/ and revoked/, for any key file added, removed, renamed over or edited in place;
 * - the store folder, for allowed/ or revoked/ replaced, and for the server secret's mode;
 * - the store folder's parent, for the store itself replaced.
 * A folder replaced is watched anew at the next reading (its inode differs, or it reported an
 * event named after itself: ext4 gives a folder made again the inode it had). What change events
 * can miss (a change made by another machine on a shared file system, an overflowing event
 * queue) is caught by a look at every key file's stats every 30 s, which any write changes (its
 * ctime); the store is read only if they did. Where events cannot be trusted at all (NFS, SMB,
 * FUSE, 9p, all of which miss changes made elsewhere), or when the system has no inotify watches
 * left, that look is taken every 0.5 s instead.
 *
 * Fail closed: after a reading with faults (a folder or a file that cannot be read, so that what
 * it says is unknown; a folder others can write to, so that anyone may have put anything in it)
 * a key stays allowed only if it was allowed before and its file still reads and allows it
 * (Allowlist.within); no other key is admitted, every revocation stays, and the store is read
 * again every second until it is in order.
 */
import { statSync, watch, promises as fs, type FSWatcher } from "node:fs";
import path from "node:path";
import { Allowlist } from "./allowlist.js";
import { KeyStoreError } from "./errors.js";
import { checkSecretFileMode, codeOf, isCode } from "./files.js";
import type { AllowlistSnapshot, KeyStore } from "./store.js";

export interface WatchEvents {
  /**
   * A new allowlist, after any change to allowed/ or revoked/ (once per burst of changes), with the
   * files that grant nothing; after a retry, only if it differs.
   */
  onChange(allowlist: Allowlist, problems: string[]): void;
  /** Something the host must fix: the secret made readable by others, a store not in order (faults). */
  onWarning(message: string): void;
  /** The store is in order again after a warning that it was not: the allowlist is its own again. */
  onRecovered?(message: string): void;
}

export interface WatchOptions {
  /** Change events: false polls, as on a network file system. */
  events: boolean;
  /**
   * After a change event, how long to wait for the next before reading: the rest of its burst (an
   * atomic write, an editor saving in place, which truncates and then writes). A burst that goes
   * on is read at most five times this after its first event.
   */
  settleMs: number;
  /** How often the files' stats are looked at anyway, for what change events miss. */
  recheckMs: number;
  /** How often they are looked at where change events are not used. */
  pollMs: number;
  /** While the store has faults, how often it is read again. */
  retryMs: number;
}

/** Every timing well inside the 2 s in which an allow or a revocation must take effect. */
export const WATCH_OPTIONS: WatchOptions = { events: true, settleMs: 50, recheckMs: 30_000, pollMs: 500, retryMs: 1000 };

/** Linux file systems (statfs f_type) on which inotify misses changes made by other machines. */
const REMOTE_FILE_SYSTEMS = new Set([0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997, 0x00c36400, 0x5346414f]);

export class AllowlistWatcher {
  private readonly options: WatchOptions;
  private allowlist = new Allowlist([], []);
  /** What onChange was last given: a reading no change prompted (a retry) calls it only if this differs. */
  private delivered = "";
  /** A change was reported since the last reading began. */
  private changedSinceRead = false;
  /** The warning about faults last given; empty while the store is in order. */
  private faultWarning = "";
  private secretWarned = false;
  private polling = false;
  /** The files' stats as the last reading began. */
  private stats = "";
  private readonly watches = new Map<string, { ino: number; watcher: FSWatcher }>();
  private ticker: NodeJS.Timeout | undefined;
  private settling: NodeJS.Timeout | undefined;
  /** When the burst of change events being waited out began. */
  private burstStart: number | undefined;
  private retrying: NodeJS.Timeout | undefined;
  private reading = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: KeyStore,
    private readonly events: WatchEvents,
    options: Partial<WatchOptions> = {},
  ) {
    this.options = { ...WATCH_OPTIONS, ...options };
  }

  /**
   * Reads the allowlist and starts watching; returns what was read. Refuses (KeyStoreError) a
   * store with faults: there is no allowlist from before to fall back on.
   */
  async start(): Promise<Allowlist> {
    this.polling = !this.options.events || (await onRemoteFileSystem(this.store.dir));
    // Watch first, so that a change made while the store is read is seen.
    if (!this.polling) this.arm();
    this.stats = await this.statSignature();
    const snapshot = await this.store.readAllowlist();
    const [fault, ...more] = snapshot.faults;
    if (fault !== undefined) {
      this.stop();
      const others = more.length > 0 ? ` (and ${more.length} more)` : "";
      throw new KeyStoreError(`The key store is not in order: ${fault}${others}; fix it and start again.`);
    }
    for (const problem of snapshot.problems) this.events.onWarning(problem);
    this.allowlist = snapshot.allowlist;
    this.delivered = describe(snapshot.allowlist, snapshot.problems);
    this.tickEvery(this.polling ? this.options.pollMs : this.options.recheckMs);
    return snapshot.allowlist;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of [this.settling, this.retrying]) clearTimeout(timer);
    clearInterval(this.ticker);
    for (const { watcher } of this.watches.values()) watcher.close();
    this.watches.clear();
  }

  private tickEvery(ms: number): void {
    clearInterval(this.ticker);
    this.ticker = setInterval(() => void this.tick(), ms).unref();
  }

  /** The periodic look: a reading if any stat changed since the last one. */
  private async tick(): Promise<void> {
    if (this.reading) return;
    const stats = await this.statSignature();
    if (stats === this.stats) return;
    this.changedSinceRead = true;
    await this.refresh(stats);
  }

  /** A change event: read once the burst it belongs to has settled. */
  private changed(): void {
    this.changedSinceRead = true;
    if (this.stopped) return;
    const now = Date.now();
    this.burstStart ??= now;
    clearTimeout(this.settling);
    const wait = Math.min(this.options.settleMs, this.burstStart + 5 * this.options.settleMs - now);
    this.settling = setTimeout(() => {
      [this.settling, this.burstStart] = [undefined, undefined];
      void this.refresh();
    }, Math.max(0, wait)).unref();
  }

  /**
   * One reading at a time; a change seen during one makes another follow it. `stats`: the
   * files' stats, when the caller (tick) has just taken them; a reading that follows takes its own.
   */
  private async refresh(stats?: string): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        await this.readOnce(stats);
        stats = undefined;
      } while (this.again && !this.stopped);
    } finally {
      this.reading = false;
    }
  }

  private async readOnce(stats: string | undefined): Promise<void> {
    const announce = this.changedSinceRead;
    this.changedSinceRead = false;
    await this.checkSecret();
    if (!this.polling) this.arm();
    this.stats = stats ?? (await this.statSignature());
    let snapshot: AllowlistSnapshot;
    try {
      snapshot = await this.store.readAllowlist();
    } catch (error) {
      // readAllowlist reports what it finds on disk; anything thrown is unforeseen, and nothing read can be trusted.
      snapshot = { allowlist: new Allowlist([], []), problems: [], faults: [`it could not be read (${(error as Error).message})`] };
    }
    if (!this.stopped) this.apply(snapshot, announce);
  }

  /** Takes in a reading; `announce`: a change prompted it, so onChange is called even if the allowlist is the same. */
  private apply({ allowlist: read, problems, faults }: AllowlistSnapshot, announce: boolean): void {
    const clean = faults.length === 0;
    const allowlist = clean ? read : read.within(this.allowlist);
    this.allowlist = allowlist;
    const description = describe(allowlist, problems);
    if (announce || description !== this.delivered) {
      this.delivered = description;
      this.events.onChange(allowlist, problems);
    }
    if (clean) {
      if (this.faultWarning) this.events.onRecovered?.("The key store is in order again; its allowlist is in force.");
      this.faultWarning = "";
      return;
    }
    const held = read
      .entries()
      .filter((entry) => read.status(entry.publicKey).state !== "revoked" && allowlist.status(entry.publicKey).state === "unknown")
      .map((entry) => entry.name);
    const warning =
      `The key store is not in order: ${faults.join("; ")}. Until it is, a key stays allowed only if it was allowed ` +
      `before and its file still reads${held.length > 0 ? ` (held back: ${held.join(", ")})` : ""}; it is read again every ${this.options.retryMs / 1000} s.`;
    if (warning !== this.faultWarning) this.events.onWarning(warning);
    this.faultWarning = warning;
    if (!this.retrying && !this.stopped) {
      this.retrying = setTimeout(() => {
        this.retrying = undefined;
        void this.refresh();
      }, this.options.retryMs).unref();
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

  /** The folders to watch, each with the names in it whose change matters (null: any). */
  private targets(): Array<[string, ((name: string) => boolean) | null]> {
    const { dir, allowedDir, revokedDir, serverSecretFile } = this.store;
    const inStore = new Set([allowedDir, revokedDir, serverSecretFile].map((file) => path.basename(file)));
    return [
      [path.dirname(dir), (name) => name === path.basename(dir)],
      [dir, (name) => inStore.has(name)],
      [allowedDir, null],
      [revokedDir, null],
    ];
  }

  /** Watches each folder as it is now: one replaced since it was last watched is watched anew, one gone is not. */
  private arm(): void {
    if (this.stopped) return; // stop() came during a reading
    for (const [dir, matters] of this.targets()) {
      let ino: number | null;
      try {
        ino = statSync(dir).ino; // synchronous: three stats, and no change of the map can come between
      } catch {
        ino = null;
      }
      const current = this.watches.get(dir);
      if (current && current.ino === ino) continue;
      current?.watcher.close();
      this.watches.delete(dir);
      if (ino === null) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, { persistent: false }, (_event, name) => {
          // An event named after the folder itself: it was moved or removed, and this watch is dead. It is
          // dropped, so that the reading that follows watches what is there now, even on a reused inode.
          if (name === path.basename(dir)) this.unwatch(dir, watcher);
          if (matters === null || name === null || matters(name) || name === path.basename(dir)) this.changed();
        });
      } catch (error) {
        // Gone since its stat: the next reading watches what replaced it. The parent is a nicety (the
        // periodic reading sees the store replaced too). Anything else, such as no inotify watches
        // left, leaves only polling.
        if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR") || dir === path.dirname(this.store.dir)) continue;
        this.fallBackToPolling(dir, error);
        return;
      }
      watcher.on("error", () => {
        this.unwatch(dir, watcher);
        this.changed();
      });
      this.watches.set(dir, { ino, watcher });
    }
  }

  private unwatch(dir: string, watcher: FSWatcher): void {
    watcher.close();
    if (this.watches.get(dir)?.watcher === watcher) this.watches.delete(dir);
  }

  private fallBackToPolling(dir: string, error: unknown): void {
    for (const { watcher } of this.watches.values()) watcher.close();
    this.watches.clear();
    this.polling = true;
    this.stats = "";
    this.tickEvery(this.options.pollMs);
    const hint = codeOf(error) === "ENOSPC" ? " (the system's inotify watches are used up: raise fs.inotify.max_user_watches)" : "";
    this.events.onWarning(`${dir} cannot be watched for changes (${codeOf(error)})${hint}; the key store is polled every ${this.options.pollMs} ms instead.`);
  }

  /** The stats of the secret, the folders and every key file, which any change alters. */
  private async statSignature(): Promise<string> {
    const { serverSecretFile, dir, allowedDir, revokedDir } = this.store;
    // The store folder by what it is and its mode only: the server writes seen.json in it
    // (admission.ts), which changes its times but no key.
    const parts = await Promise.all([statLine(serverSecretFile), statLine(dir, "identity"), statLine(allowedDir), statLine(revokedDir)]);
    for (const folder of [allowedDir, revokedDir]) {
      const names = await fs.readdir(folder).catch(() => [] as string[]);
      for (const name of names.sort()) parts.push(`${name} ${await statLine(path.join(folder, name))}`);
    }
    return parts.join("\n");
  }
}

/** What an allowlist grants and revokes, and what grants nothing: equal for equal readings. */
function describe(allowlist: Allowlist, problems: string[]): string {
  return JSON.stringify([allowlist.entries(), allowlist.revokedEntries(), problems]);
}

/** A file's stats as a line: every one a write changes, or with "identity" only its inode and mode. */
async function statLine(file: string, only?: "identity"): Promise<string> {
  try {
    const stat = await fs.stat(file);
    if (only === "identity") return `${stat.ino} ${stat.mode}`;
    return `${stat.ino} ${stat.mode} ${stat.size} ${stat.mtimeMs} ${stat.ctimeMs}`;
  } catch (error) {
    return codeOf(error);
  }
}

async function onRemoteFileSystem(dir: string): Promise<boolean> {
  if (process.platform !== "linux") return false;
  try {
    return REMOTE_FILE_SYSTEMS.has((await fs.statfs(dir)).type >>> 0);
  } catch {
    return false;
  }
}
