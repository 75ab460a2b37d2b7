/**
 * The session journal: every published event is appended here before it is
 * published. On open, the newest whole snapshot and the records after it are
 * loaded; a torn tail is cut with a warning; damage in the middle stops the
 * start unless the host asks for `repair`.
 */
import { fdatasync, promises as fs, writev, writevSync } from "node:fs";
import path from "node:path";
import { JOURNAL_MAGIC, encodeRecord, type JournalRecord } from "./format.js";
import { RecordReader } from "./reader.js";
import { readSnapshot, snapshotName, syncDir, writeSnapshot, type Snapshot } from "./snapshot.js";
import { laterRecordMayFollow } from "./tail.js";

export type FsyncMode = "always" | "batch" | "never";
export const FSYNC_MODES = ["always", "batch", "never"] as const;

export interface OpenOptions {
  dir: string;
  fsync: FsyncMode;
  repair?: boolean;
  onWarning?: (message: string) => void;
}

export interface Loaded {
  snapshot: Snapshot | null;
  /** Records after the snapshot, in seq order. */
  records: JournalRecord[];
}

/** A refusal to open the state, worded for the host. */
export class JournalError extends Error {
  override readonly name = "JournalError";
  readonly userFacing = true;
}

/** Called once a record is as durable as the fsync mode promises (or could not be made so), in append order. */
export type Durable = (error: Error | null) => void;

interface Pending {
  bytes: Buffer;
  done: Durable;
}

/**
 * A batch up to this size is written synchronously, on the main thread (a copy into the page
 * cache); a larger one (a big commit) in libuv's pool, so that it does not hold the event loop.
 */
const SYNC_WRITE_BYTES = 1024 * 1024;

const shortWrite = (written: number, length: number) => new Error(`a journal write stopped after ${written} of ${length} bytes (is the disk full?)`);

const journalName = (seq: number) => `journal-${String(seq).padStart(12, "0")}.log`;
const numberOf = (name: string) => Number(/-(\d+)\./.exec(name)![1]);

/**
 * Appending: the records of one event-loop turn are written at its end, in one
 * synchronous writev to the open file (a copy into the page cache: a few µs,
 * where a FileHandle.writev cost a trip through libuv's pool and two promises
 * per turn); a batch over SYNC_WRITE_BYTES goes through the pool, and nothing
 * else is written until it is done. `never` is then done. `batch` syncs with one fdatasync in libuv's
 * pool, off the main thread, and calls back every record written before that
 * sync began; records written while it runs wait for the next one, which starts
 * as soon as it ends (group commit). `always` writes and syncs one record at a
 * time. No record is reported durable before a sync that began after its write
 * has completed.
 */
export class Journal {
  /** Appended, not yet written. */
  private pending: Pending[] = [];
  /** Written, waiting for the next fdatasync (batch, always). */
  private unsynced: Durable[] = [];
  /** A large batch is being written in libuv's pool (flush). */
  private writing = false;
  /** An fdatasync is in flight. */
  private syncing = false;
  /** Waiting for a moment with nothing written and unsynced (drain, compaction). */
  private whenSynced: Array<() => void> = [];
  private scheduled = false;
  private closed = false;
  /** Set while compaction moves to a new journal file; no flush starts meanwhile. */
  private switching: Promise<void> | null = null;
  bytesSinceSnapshot: number;

  private constructor(
    private readonly dir: string,
    private readonly mode: FsyncMode,
    private handle: fs.FileHandle,
    private file: string,
    size: number,
  ) {
    this.bytesSinceSnapshot = size;
  }

  static async open(options: OpenOptions): Promise<{ journal: Journal; loaded: Loaded }> {
    const { dir } = options;
    const warn = options.onWarning ?? (() => {});
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.access(dir, fs.constants.W_OK);
      const probe = path.join(dir, ".write-test");
      await fs.writeFile(probe, "");
      await fs.rm(probe);
    } catch (error) {
      throw new JournalError(`Cannot write to the state directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
    }
    const names = await fs.readdir(dir);
    for (const name of names.filter((n) => n.endsWith(".tmp"))) await fs.rm(path.join(dir, name), { force: true });
    const scan = await scanState(dir, warn);
    let current = scan.newest;
    if (scan.damage) {
      const { file, offset, problem, tornTail } = scan.damage;
      if (tornTail) {
        warn(`${file}: ${problem} at byte ${offset}, the torn tail of a write cut short; it was cut off.`);
      } else if (options.repair) {
        warn(`${file}: ${problem} at byte ${offset}; --repair keeps the ${scan.loaded.records.length} records before it and drops the rest.`);
      } else {
        throw new JournalError(`${file} is damaged at byte ${offset} (${problem}); restart with --repair to keep what precedes it.`);
      }
      await fs.truncate(file, offset);
      // Nothing after damage can be trusted: later journals go too.
      for (const later of scan.damage.laterFiles) await fs.rm(later, { force: true });
      current = { file, size: offset };
    }
    return Journal.finish(options, current, scan.loaded);
  }

  private static async finish(options: OpenOptions, current: { file: string; size: number } | null, loaded: Loaded): Promise<{ journal: Journal; loaded: Loaded }> {
    const file = current?.file ?? path.join(options.dir, journalName(loaded.snapshot?.seq ?? 0));
    const handle = await fs.open(file, "a", 0o600);
    let size = current?.size ?? 0;
    if (size === 0) {
      await handle.write(JOURNAL_MAGIC);
      await handle.sync();
      await syncDir(options.dir);
      size = JOURNAL_MAGIC.length;
    }
    return { journal: new Journal(options.dir, options.fsync, handle, file, size), loaded };
  }

  /** Resolves once the record is in the file (and on disk, unless fsync is never). */
  append(record: JournalRecord): Promise<void> {
    return new Promise((resolve, reject) => this.appendThen(record, (error) => (error ? reject(error) : resolve())));
  }

  /** append() without a promise: `done` is called once the record is in the file (and on disk, unless fsync is never). */
  appendThen(record: JournalRecord, done: Durable): void {
    if (this.closed) {
      process.nextTick(done, new Error("the journal is closed"));
      return;
    }
    const bytes = encodeRecord(record);
    this.bytesSinceSnapshot += bytes.length;
    this.pending.push({ bytes, done });
    this.schedule();
  }

  /** Group commit: everything appended in this turn of the event loop is written at its end, in one write. */
  private schedule(): void {
    if (this.scheduled || this.switching || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Writes what is pending (one record under `always`), then reports it durable or starts its sync. */
  private flush(): void {
    if (this.switching || this.writing || this.pending.length === 0) return;
    if (this.mode === "always" && (this.syncing || this.unsynced.length > 0)) return; // the sync's end writes the next
    const batch = this.mode === "always" ? this.pending.splice(0, 1) : this.pending.splice(0);
    const bytes = batch.map((item) => item.bytes);
    const length = bytes.reduce((sum, buffer) => sum + buffer.length, 0);
    if (length <= SYNC_WRITE_BYTES) {
      let written: number;
      try {
        // libuv writes every buffer, resuming after short writes; fewer bytes back means it stopped on an error (a full disk).
        written = writevSync(this.handle.fd, bytes);
      } catch (error) {
        return this.written(batch, error as Error);
      }
      return this.written(batch, written === length ? null : shortWrite(written, length));
    }
    // A large batch is written in libuv's pool, so that copying it does not hold up the event loop; no flush starts meanwhile.
    this.writing = true;
    writev(this.handle.fd, bytes, (error, written) => {
      this.writing = false;
      this.written(batch, error ?? (written === length ? null : shortWrite(written, length)));
      this.settle();
      this.schedule();
    });
  }

  /** A batch is in the file (or failed): `never` is done with it; the others wait for a sync. */
  private written(batch: Pending[], error: Error | null): void {
    if (error || this.mode === "never") {
      for (const item of batch) item.done(error);
      return;
    }
    for (const item of batch) this.unsynced.push(item.done);
    this.sync();
  }

  /** One fdatasync for every record written before it starts; the next starts when it ends, if more were written meanwhile. */
  private sync(): void {
    if (this.syncing || this.unsynced.length === 0) return;
    const batch = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    fdatasync(this.handle.fd, (error) => {
      this.syncing = false;
      for (const done of batch) done(error);
      this.sync();
      if (this.mode === "always") this.flush();
      this.settle();
    });
  }

  /** Whether a write or sync is in flight, or written records wait for a sync. */
  private get busy(): boolean {
    return this.writing || this.syncing || this.unsynced.length > 0;
  }

  private settle(): void {
    if (!this.busy) for (const resolve of this.whenSynced.splice(0)) resolve();
  }

  /** While busy: resolves once every record written is synced and no write is in flight. Read by compact() before it changes files. */
  private get flushing(): Promise<void> | null {
    if (!this.busy) return null;
    return new Promise((resolve) => this.whenSynced.push(resolve));
  }

  /** Everything appended so far is written (and synced, unless fsync is never). */
  async drain(): Promise<void> {
    for (;;) {
      if (this.switching) await this.switching;
      else if (this.pending.length > 0 && !this.writing && !(this.mode === "always" && this.busy)) this.flush();
      else if (this.busy) await this.flushing;
      else if (this.pending.length === 0) return;
    }
  }

  /**
   * Starts a new journal after `snapshot.seq`, then writes the snapshot, then
   * removes what it replaces. A crash at any step leaves files that open() loads
   * to the same state: until the snapshot is whole, the old snapshot and the old
   * and new journals still hold everything, and records up to a snapshot's seq
   * are skipped when replayed. Appends go on meanwhile, into the new journal.
   */
  async compact(snapshot: Snapshot): Promise<void> {
    const file = path.join(this.dir, journalName(snapshot.seq));
    if (file !== this.file) {
      // No flush may start while the journal changes files (set before any await): hold them, and finish the one under way.
      const under = this.flushing;
      this.switching = (async () => {
        await under;
        const handle = await fs.open(file, "a", 0o600);
        await handle.write(JOURNAL_MAGIC);
        await handle.sync();
        await syncDir(this.dir);
        const old = this.handle;
        [this.handle, this.file] = [handle, file];
        await old.close();
      })();
      try {
        await this.switching;
      } finally {
        this.switching = null;
        this.schedule();
      }
    }
    this.bytesSinceSnapshot = JOURNAL_MAGIC.length;
    const replaced = (await fs.readdir(this.dir)).filter(
      (name) => /^(snapshot-\d+\.bin|journal-\d+\.log)$/.test(name) && numberOf(name) <= snapshot.seq && path.join(this.dir, name) !== file,
    );
    await writeSnapshot(this.dir, snapshot);
    for (const name of replaced) if (name !== snapshotName(snapshot.seq)) await fs.rm(path.join(this.dir, name), { force: true });
    await syncDir(this.dir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    await this.handle.sync();
    await this.handle.close();
  }
}

interface Scan {
  loaded: Loaded;
  /** The newest journal file and its size, to append to. */
  newest: { file: string; size: number } | null;
  /**
   * The first damaged record, if any: loading stopped there. `tailWork`: the bytes looked at to
   * tell a torn tail from damage in the middle (tail.ts).
   */
  damage: { file: string; offset: number; problem: string; tornTail: boolean; laterFiles: string[]; tailWork: number } | null;
}

/**
 * Reads a state directory without changing it: the newest whole snapshot and the journal
 * records after it, up to the first damage, one record at a time (reader.ts), so that a journal
 * of any size opens. open() decides what damage means.
 */
export async function scanState(dir: string, warn: (message: string) => void = () => {}): Promise<Scan> {
  const names = await fs.readdir(dir);
  let snapshot: Snapshot | null = null;
  for (const name of names.filter((n) => /^snapshot-\d+\.bin$/.test(n)).sort().reverse()) {
    snapshot = await readSnapshot(path.join(dir, name));
    if (snapshot) break;
    warn(`${path.join(dir, name)} is incomplete (a crash while it was written); an older state is used.`);
  }
  const journals = names.filter((n) => /^journal-\d+\.log$/.test(n)).sort().map((name) => path.join(dir, name));
  const records: JournalRecord[] = [];
  let lastSeq = snapshot?.seq ?? 0;
  let newest: Scan["newest"] = null;
  for (const [index, file] of journals.entries()) {
    const isNewest = index === journals.length - 1;
    const reader = await RecordReader.open(file);
    try {
      if (reader.size > 0 && !(await reader.hasMagic(JOURNAL_MAGIC))) throw new JournalError(`${file} is not a curvehost journal; move it out of ${dir}.`);
      let offset = Math.min(JOURNAL_MAGIC.length, reader.size);
      while (offset < reader.size) {
        // Records up to the snapshot's seq are checked whole but not held.
        const result = await reader.read(offset, (seq) => seq > lastSeq);
        if ("error" in result || result.seq > lastSeq + 1) {
          const problem = "error" in result ? result.error : `seq jumps from ${lastSeq} to ${result.seq}`;
          // Only the newest journal can have a torn tail: damage in an older one is in the middle.
          const tail = isNewest ? await laterRecordMayFollow(reader, offset + 1, lastSeq) : { laterRecord: true, work: 0 };
          const damage = { file, offset, problem, tornTail: !tail.laterRecord, laterFiles: journals.slice(index + 1), tailWork: tail.work };
          return { loaded: { snapshot, records }, newest, damage };
        }
        if (result.record) {
          records.push(result.record);
          lastSeq = result.seq;
        }
        offset = result.next;
      }
      if (isNewest) newest = { file, size: reader.size };
    } finally {
      await reader.close();
    }
  }
  return { loaded: { snapshot, records }, newest, damage: null };
}
