/**
 * The journal's append path against the promise of each fsync mode: no record
 * is reported durable before an fdatasync that began after it was written
 * (batch, always), and `always` syncs every record on its own. fdatasync is
 * watched by replacing it in node:fs for these tests (the journal imports it by
 * name, so syncBuiltinESMExports carries the replacement over).
 */
import test, { type ExecutionContext } from "ava";
import fs, { promises as fsp } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { JOURNAL_MAGIC, Journal, encodeRecord, type FsyncMode, type JournalRecord } from "../../../src/server/journal/index.js";
import { tempDir } from "../../helpers/cli.js";

test.serial.afterEach.always(() => restore());

const original = fs.fdatasync;
/** The file's size when each fdatasync began, and whether it has returned. */
let syncs: Array<{ size: number; done: boolean }> = [];

function watchSyncs(delayMs: number): void {
  syncs = [];
  fs.fdatasync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    const sync = { size: fs.fstatSync(fd).size, done: false };
    syncs.push(sync);
    original(fd, (error) =>
      setTimeout(() => {
        sync.done = true;
        callback(error);
      }, delayMs),
    );
  }) as typeof fs.fdatasync;
  syncBuiltinESMExports();
}

function restore(): void {
  fs.fdatasync = original;
  syncBuiltinESMExports();
}

function record(seq: number): JournalRecord {
  return { seq, header: { type: "commit", seq }, frames: [Buffer.alloc(100 + seq, seq)] };
}

/** Appends `count` records over a few turns of the event loop; for each, whether a completed sync covered its bytes when it resolved. */
async function appendAll(t: ExecutionContext, mode: FsyncMode, count: number): Promise<boolean[]> {
  const { journal } = await Journal.open({ dir: await tempDir(t), fsync: mode });
  let end = JOURNAL_MAGIC.length;
  const covered: boolean[] = [];
  const appends: Array<Promise<void>> = [];
  for (let seq = 1; seq <= count; seq++) {
    end += encodeRecord(record(seq)).length;
    const recordEnd = end;
    appends.push(journal.append(record(seq)).then(() => void (covered[seq - 1] = syncs.some((sync) => sync.done && sync.size >= recordEnd))));
    if (seq % 7 === 0) await new Promise((resolve) => setImmediate(resolve)); // records of several turns, some written while a sync runs
  }
  await Promise.all(appends);
  await journal.close();
  return covered;
}

test.serial("batch: every record resolves only after an fdatasync that began once it was written", async (t) => {
  watchSyncs(5);
  const covered = await appendAll(t, "batch", 60);
  t.deepEqual(covered, covered.map(() => true));
  t.true(syncs.length < 60, `records share syncs (${syncs.length} syncs for 60 records)`);
});

test.serial("always: one fdatasync per record, each before the record resolves", async (t) => {
  watchSyncs(1);
  const covered = await appendAll(t, "always", 20);
  t.deepEqual(covered, covered.map(() => true));
  t.is(syncs.length, 20);
});

test.serial("never: no fdatasync while appending; every record is in the file when it resolves", async (t) => {
  watchSyncs(1);
  const dir = await tempDir(t);
  const { journal } = await Journal.open({ dir, fsync: "never" });
  const file = path.join(dir, (await fsp.readdir(dir)).find((name) => name.startsWith("journal-"))!);
  let end = JOURNAL_MAGIC.length;
  for (let seq = 1; seq <= 10; seq++) {
    end += encodeRecord(record(seq)).length;
    await journal.append(record(seq));
    t.is((await fsp.stat(file)).size, end);
  }
  t.is(syncs.length, 0);
  await journal.close();
});

test.serial("a failed sync fails every record it covered, and the journal reports it rather than resolving", async (t) => {
  fs.fdatasync = ((_fd: number, callback: (error: NodeJS.ErrnoException | null) => void) =>
    setImmediate(() => callback(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })))) as unknown as typeof fs.fdatasync;
  syncBuiltinESMExports();
  const dir = await tempDir(t);
  const { journal } = await Journal.open({ dir, fsync: "batch" });
  const results = await Promise.allSettled([journal.append(record(1)), journal.append(record(2))]);
  t.deepEqual(results.map((result) => result.status), ["rejected", "rejected"]);
  restore();
  await journal.close();
});

test.serial("a batch over a megabyte is written in libuv's pool; later records wait for it, in order, and the sync still covers each", async (t) => {
  watchSyncs(2);
  const dir = await tempDir(t);
  const { journal } = await Journal.open({ dir, fsync: "batch" });
  const big = (seq: number): JournalRecord => ({ seq, header: { type: "commit", seq }, frames: [Buffer.alloc(3 * 1024 * 1024, seq)] });
  const records = [record(1), big(2), record(3)];
  let end = JOURNAL_MAGIC.length;
  const ends = records.map((r) => (end += encodeRecord(r).length));
  const covered: boolean[] = [];
  const first = journal.append(records[0]!).then(() => void (covered[0] = syncs.some((sync) => sync.done && sync.size >= ends[0]!)));
  const second = journal.append(records[1]!).then(() => void (covered[1] = syncs.some((sync) => sync.done && sync.size >= ends[1]!)));
  await new Promise((resolve) => setImmediate(resolve)); // the big batch is being written
  const third = journal.append(records[2]!).then(() => void (covered[2] = syncs.some((sync) => sync.done && sync.size >= ends[2]!)));
  await Promise.all([first, second, third]);
  t.deepEqual(covered, [true, true, true]);
  await journal.close();
  const reopened = await Journal.open({ dir, fsync: "batch" });
  await reopened.journal.close();
  t.deepEqual(reopened.loaded.records.map((r) => r.seq), [1, 2, 3]);
});
