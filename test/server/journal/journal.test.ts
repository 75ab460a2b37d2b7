import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import {
  JOURNAL_MAGIC,
  Journal,
  JournalError,
  encodeRecord,
  exportState,
  importState,
  scanState,
  writeSnapshot,
  type FsyncMode,
  type JournalRecord,
} from "../../../src/server/journal/index.js";
import { tempDir } from "../../helpers/cli.js";
import { within } from "../../helpers/wait.js";

function record(seq: number): JournalRecord {
  return { seq, header: { type: "commit", seq, id: `n${seq}` }, frames: [Buffer.alloc(seq * 3, seq), Buffer.from(`frame ${seq}`)] };
}

async function write(dir: string, count: number, fsync: FsyncMode = "batch"): Promise<void> {
  const { journal } = await Journal.open({ dir, fsync });
  await Promise.all(Array.from({ length: count }, (_, i) => journal.append(record(i + 1))));
  await journal.close();
}

async function journalFile(dir: string): Promise<string> {
  const names = (await fs.readdir(dir)).filter((name) => name.startsWith("journal-")).sort();
  return path.join(dir, names.at(-1)!);
}

for (const fsync of ["always", "batch", "never"] as const) {
  test(`records round-trip with their frames (fsync ${fsync})`, async (t) => {
    const dir = path.join(await tempDir(t), "state");
    await write(dir, 50, fsync);
    const { journal, loaded } = await Journal.open({ dir, fsync });
    t.teardown(() => journal.close());
    t.is(loaded.snapshot, null);
    t.deepEqual(loaded.records, Array.from({ length: 50 }, (_, i) => record(i + 1)));
  });
}

test("every append of one turn is written, and each resolves only once it is in the file", async (t) => {
  const dir = await tempDir(t);
  const { journal } = await Journal.open({ dir, fsync: "batch" });
  const appends = Array.from({ length: 100 }, (_, i) => journal.append(record(i + 1)));
  await appends[99];
  const size = (await fs.stat(await journalFile(dir))).size;
  await Promise.all(appends);
  t.is((await fs.stat(await journalFile(dir))).size, size, "the last resolved append found everything already written");
  await journal.close();
  const reopened = await Journal.open({ dir, fsync: "batch" });
  t.is(reopened.loaded.records.length, 100);
  await reopened.journal.close();
});

test("a torn tail, cut at every byte of the last record, loads the records before it and warns", async (t) => {
  const dir = await tempDir(t);
  await write(dir, 5);
  const file = await journalFile(dir);
  const whole = await fs.readFile(file);
  const four = path.join(await tempDir(t), "four");
  await write(four, 4);
  const lastStart = (await fs.stat(await journalFile(four))).size;
  for (let cut = lastStart; cut < whole.length; cut++) {
    await fs.writeFile(file, whole.subarray(0, cut));
    const warnings: string[] = [];
    const { journal, loaded } = await Journal.open({ dir, fsync: "never", onWarning: (w) => warnings.push(w) });
    await journal.close();
    t.is(loaded.records.length, 4, `cut at ${cut}`);
    if (cut > lastStart) t.regex(warnings[0] ?? "", /torn tail/, `cut at ${cut}`);
    t.is((await fs.stat(file)).size, lastStart, "the tail was cut off");
  }
});

test("a flipped bit in the middle stops the start with the file and offset; --repair keeps what precedes it", async (t) => {
  const dir = await tempDir(t);
  await write(dir, 10);
  const file = await journalFile(dir);
  const three = path.join(await tempDir(t), "three");
  await write(three, 3);
  const offset = (await fs.stat(await journalFile(three))).size;
  const data = await fs.readFile(file);
  data[offset + 20] = data[offset + 20]! ^ 0x01;
  await fs.writeFile(file, data);
  await t.throwsAsync(Journal.open({ dir, fsync: "batch" }), {
    instanceOf: JournalError,
    message: `${file} is damaged at byte ${offset} (a record fails its checksum); restart with --repair to keep what precedes it.`,
  });
  t.is((await fs.stat(file)).size, data.length, "nothing was changed by the refusal");
  const warnings: string[] = [];
  const { journal, loaded } = await Journal.open({ dir, fsync: "batch", repair: true, onWarning: (w) => warnings.push(w) });
  await journal.close();
  t.deepEqual(loaded.records.map((r) => r.seq), [1, 2, 3]);
  t.regex(warnings[0]!, /--repair keeps the 3 records/);
});

test("an empty journal file and a missing directory both start an empty state", async (t) => {
  const base = await tempDir(t);
  const missing = path.join(base, "a", "b", "state");
  const first = await Journal.open({ dir: missing, fsync: "batch" });
  t.deepEqual(first.loaded.records, []);
  await first.journal.close();
  const file = await journalFile(missing);
  await fs.writeFile(file, "");
  const second = await Journal.open({ dir: missing, fsync: "batch" });
  t.deepEqual(second.loaded.records, []);
  await second.journal.append(record(1));
  await second.journal.close();
  t.is((await Journal.open({ dir: missing, fsync: "batch" }).then(async (o) => (await o.journal.close(), o.loaded))).records.length, 1);
});

test("a state directory that cannot be written is refused in one sentence", async (t) => {
  const base = await tempDir(t);
  const notADir = path.join(base, "file");
  await fs.writeFile(notADir, "x");
  await t.throwsAsync(Journal.open({ dir: path.join(notADir, "state"), fsync: "batch" }), {
    instanceOf: JournalError,
    message: /^Cannot write to the state directory .*file\/state: (ENOTDIR|EEXIST)\.$/,
  });
});

test("a file that is not a journal is refused by name", async (t) => {
  const dir = await tempDir(t);
  await fs.writeFile(path.join(dir, "journal-000000000000.log"), "hello, I am not a journal");
  await t.throwsAsync(Journal.open({ dir, fsync: "batch" }), { message: /journal-000000000000\.log is not a curvehost journal/ });
});

test("compaction writes a snapshot, starts a new journal, and reopens to the same state", async (t) => {
  const dir = await tempDir(t);
  const { journal } = await Journal.open({ dir, fsync: "batch" });
  for (let i = 1; i <= 10; i++) await journal.append(record(i));
  const snapshot = { seq: 10, meta: { nodes: 10 }, blobs: [Buffer.from("a"), Buffer.alloc(100_000, 2)] };
  const compacting = journal.compact(snapshot);
  const during = journal.append(record(11)); // appended while compacting: must not be lost
  await compacting;
  await during;
  await journal.append(record(12));
  await journal.close();
  const names = (await fs.readdir(dir)).sort();
  t.deepEqual(names, ["journal-000000000010.log", "snapshot-000000000010.bin"]);
  const reopened = await Journal.open({ dir, fsync: "batch" });
  await reopened.journal.close();
  t.deepEqual(reopened.loaded.snapshot, snapshot);
  t.deepEqual(reopened.loaded.records.map((r) => r.seq), [11, 12]);
});

test("a crash at any step of compaction leaves a state that loads the same", async (t) => {
  // Build the files as each step leaves them, from a completed compaction and its inputs.
  const base = await tempDir(t);
  const before = path.join(base, "before");
  await write(before, 10);
  const after = path.join(base, "after");
  await fs.cp(before, after, { recursive: true });
  const { journal } = await Journal.open({ dir: after, fsync: "batch" });
  await journal.compact({ seq: 10, meta: { m: 1 }, blobs: [Buffer.from("state")] });
  await journal.close();
  const oldJournal = await fs.readFile(path.join(before, "journal-000000000000.log"));
  const snapshot = await fs.readFile(path.join(after, "snapshot-000000000010.bin"));
  const steps: Record<string, Record<string, Buffer>> = {
    "new journal made, snapshot half written": {
      "journal-000000000000.log": oldJournal,
      "journal-000000000010.log": Buffer.from("CHJRNL01"),
      "snapshot-000000000010.bin.tmp": snapshot.subarray(0, 40),
    },
    "snapshot whole, old journal not yet removed": { "journal-000000000000.log": oldJournal, "snapshot-000000000010.bin": snapshot, "journal-000000000010.log": Buffer.from("CHJRNL01") },
  };
  for (const [step, files] of Object.entries(steps)) {
    const dir = path.join(base, step.replace(/\W+/g, "-"));
    await fs.mkdir(dir);
    for (const [name, content] of Object.entries(files)) await fs.writeFile(path.join(dir, name), content);
    const { journal: reopened, loaded } = await Journal.open({ dir, fsync: "batch" });
    await reopened.append(record(11));
    await reopened.close();
    const again = await Journal.open({ dir, fsync: "batch" });
    await again.journal.close();
    const lastSeq = again.loaded.records.at(-1)?.seq;
    t.is(lastSeq, 11, step);
    if (loaded.snapshot) t.is(loaded.snapshot.seq, 10, step);
    else t.is(loaded.records.length, 10, `${step}: no snapshot, so all ten records`);
  }
});

const GiB = 2 ** 30;

/**
 * A temporary directory for a journal of gigabytes of holes: on tmpfs where there is one, which
 * reads a hole from the shared zero page (3 GiB in about a second) where ext4 first fills the page
 * cache with it (3 GiB took 26 s on a busy machine). Either is a real file system.
 */
async function sparseDir(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const shm = await fs.stat("/dev/shm").then((stat) => stat.isDirectory(), () => false);
  if (!shm) return tempDir(t);
  const dir = await fs.mkdtemp(path.join("/dev/shm", "curvehost-"));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

// The three tests of journals over 2 GiB read gigabytes of holes: one at a time.

/** Opens and closes a journal, with the warnings it gave. */
async function reopen(dir: string, options: { repair?: boolean } = {}) {
  const warnings: string[] = [];
  const { journal, loaded } = await Journal.open({ dir, fsync: "never", ...options, onWarning: (w) => warnings.push(w) });
  await journal.close();
  return { loaded, warnings };
}

test.serial("a journal of 3 GiB opens: a sparse hole after its records is a torn tail, and is cut off", async (t) => {
  const dir = await sparseDir(t);
  await write(dir, 5);
  const file = await journalFile(dir);
  const end = (await fs.stat(file)).size;
  // A file system can leave a crashed file longer than what was written, the rest zeros; a hole costs no disk.
  await fs.truncate(file, 3 * GiB);
  const { loaded, warnings } = await within(reopen(dir), 50_000, "opening a 3 GiB journal");
  t.deepEqual(loaded.records, Array.from({ length: 5 }, (_, i) => record(i + 1)));
  t.regex(warnings[0]!, new RegExp(`at byte ${end}, the torn tail of a write cut short; it was cut off`));
  t.is((await fs.stat(file)).size, end);
});

test.serial("records found 3 GiB further on, past a hole, make it damage in the middle, and the start is refused", async (t) => {
  const dir = await sparseDir(t);
  await write(dir, 5);
  const file = await journalFile(dir);
  const end = (await fs.stat(file)).size;
  const handle = await fs.open(file, "r+");
  await handle.write(Buffer.concat([6, 7, 8].map((seq) => encodeRecord(record(seq)))), 0, undefined, 3 * GiB);
  await handle.close();
  await t.throwsAsync(within(Journal.open({ dir, fsync: "never" }), 50_000, "opening"), {
    instanceOf: JournalError,
    message: `${file} is damaged at byte ${end} (a record is cut short); restart with --repair to keep what precedes it.`,
  });
  t.true((await fs.stat(file)).size > 3 * GiB, "nothing was changed by the refusal");
});

test.serial("a record that puts the journal past 2 GiB is read, and records after it load; export and import carry the state", async (t) => {
  const base = await sparseDir(t);
  const dir = path.join(base, "state");
  await fs.mkdir(dir);
  // Record 1 holds one frame of 2.25 GiB of zeros (a hole in the file); a snapshot at seq 1 stands for it,
  // so it is checked whole, not held. Records 2 and 3 follow it, past 2 GiB.
  const frameLength = 2.25 * GiB;
  const header = Buffer.from(JSON.stringify({ type: "commit", seq: 1 }));
  const head = Buffer.alloc(8 + 4 + header.length + 4 + 4);
  head.writeBigUInt64BE(1n, 0);
  head.writeUInt32BE(header.length, 8);
  header.copy(head, 12);
  head.writeUInt32BE(1, 12 + header.length);
  head.writeUInt32BE(frameLength, 16 + header.length);
  let sum = crc32(head);
  const zeros = Buffer.alloc(64 << 20);
  for (let left = frameLength; left > 0; left -= zeros.length) sum = crc32(zeros.subarray(0, Math.min(left, zeros.length)), sum);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(head.length + frameLength, 0);
  prefix.writeUInt32BE(sum, 4);
  const file = path.join(dir, "journal-000000000000.log");
  await fs.writeFile(file, Buffer.concat([JOURNAL_MAGIC, prefix, head]));
  const after = JOURNAL_MAGIC.length + prefix.length + head.length + frameLength;
  const handle = await fs.open(file, "r+");
  await handle.write(Buffer.concat([encodeRecord(record(2)), encodeRecord(record(3))]), 0, undefined, after);
  await handle.close();
  const snapshot = { seq: 1, meta: { nodes: 1 }, blobs: [Buffer.from("state at seq 1")] };
  await writeSnapshot(dir, snapshot);

  const { loaded, warnings } = await within(reopen(dir), 50_000, "opening");
  t.deepEqual(warnings, []);
  t.deepEqual(loaded.snapshot, snapshot);
  t.deepEqual(loaded.records, [record(2), record(3)]);

  const exported = path.join(base, "session.chs");
  t.deepEqual(await within(exportState(dir, exported), 50_000, "export"), { seq: 3, records: 2 });
  const moved = path.join(base, "moved");
  t.deepEqual(await importState(exported, moved), { seq: 3, records: 2 });
  t.deepEqual((await reopen(moved)).loaded, loaded);
});

/** A journal of three records, then `tail` as the start of a fourth that a crash cut short. */
async function tornBy(t: Parameters<typeof tempDir>[0], tail: Buffer): Promise<{ dir: string; file: string; end: number }> {
  const dir = await tempDir(t);
  await write(dir, 3);
  const file = await journalFile(dir);
  const end = (await fs.stat(file)).size;
  await fs.appendFile(file, tail);
  return { dir, file, end };
}

test("a torn tail crafted so that every fourth offset holds a length that fits is ruled out in one read of it", async (t) => {
  // A length of a quarter of the tail at every fourth offset: the old scan checksummed a quarter of the
  // tail at three quarters of those offsets, 3/64 of its size squared (4 MiB: 0.8 TB, about 3 minutes).
  const size = 4 << 20;
  const tail = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) tail.writeUInt32BE(size / 4, i);
  tail.writeUInt32BE(0xfffffff0, 0); // the torn record: a length past the end
  const { dir, end } = await tornBy(t, tail);
  const { damage } = await within(scanState(dir), 20_000, "the scan");
  t.true(damage!.tornTail);
  t.is(damage!.tailWork, size - 1, "the tail (after the damaged record's first byte) looked at once, and no candidate whole");
  const { loaded, warnings } = await within(reopen(dir), 20_000, "opening");
  t.is(loaded.records.length, 3);
  t.regex(warnings[0]!, new RegExp(`at byte ${end}, the torn tail`));
});

test("a torn tail full of record starts that pass every cheap check costs a bounded amount of work, and refuses the start", async (t) => {
  // A record start every 24 bytes, with a length that fits, the next seq, and a header that opens as
  // JSON; no checksum matches. Checking each whole is 1/48 of the tail size squared.
  const size = 4 << 20;
  const tail = Buffer.alloc(size);
  for (let i = 24; i + 24 <= size; i += 24) {
    tail.writeUInt32BE(size / 2, i);
    tail.writeBigUInt64BE(4n, i + 8);
    tail.writeUInt32BE(2, i + 16);
    tail.write("{}", i + 20);
  }
  tail.writeUInt32BE(0xfffffff0, 0);
  const { dir, file, end } = await tornBy(t, tail);
  const { damage } = await within(scanState(dir), 20_000, "the scan");
  // The checks whole are given four times the tail and 64 MiB; past that, the tail counts as holding a record.
  t.false(damage!.tornTail);
  t.true(damage!.tailWork <= size + 4 * size + (64 << 20), `${damage!.tailWork} bytes looked at`);
  t.true(damage!.tailWork >= 4 * size + (64 << 20) - size / 2, "the budget was spent");
  await t.throwsAsync(Journal.open({ dir, fsync: "never" }), { message: `${file} is damaged at byte ${end} (a record is cut short); restart with --repair to keep what precedes it.` });
  t.is((await reopen(dir, { repair: true })).loaded.records.length, 3);
});
