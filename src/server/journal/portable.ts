/**
 * A session as one portable file: the host's backup, and the way to move a
 * session to another machine. In the record format, every part checksummed:
 *   magic | header record | snapshot meta record + one record per blob (if any) | journal records | end record
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { JOURNAL_MAGIC, encodeRecord, type JournalRecord } from "./format.js";
import { JournalError, scanState } from "./journal.js";
import { RecordReader } from "./reader.js";
import { syncDir, writeInGroups, writeSnapshot, type Snapshot } from "./snapshot.js";

const EXPORT_MAGIC = Buffer.from("CHEXPT01");
const FORMAT = "curvehost-session";

/** Writes the state in `dir` to `outFile`, without changing `dir` (a running server's state may be exported). */
export async function exportState(dir: string, outFile: string): Promise<{ seq: number; records: number }> {
  const names = await fs.readdir(dir).catch(() => {
    throw new JournalError(`There is no state directory at ${dir}.`);
  });
  if (!names.some((name) => /^(journal|snapshot)-\d+\./.test(name))) throw new JournalError(`${dir} holds no session state.`);
  if ((await fs.stat(outFile).catch(() => null))?.isDirectory()) throw new JournalError(`${outFile} is a directory; name the file to export to.`);
  const { loaded, damage } = await scanState(dir);
  if (damage && !damage.tornTail)
    throw new JournalError(`${damage.file} is damaged at byte ${damage.offset}; start the server with --repair first.`);
  const { snapshot, records } = loaded;
  const seq = records.at(-1)?.seq ?? snapshot?.seq ?? 0;
  const temporary = `${outFile}.tmp`;
  const handle = await fs.open(temporary, "w", 0o600);
  try {
    await writeInGroups(handle, exportParts(snapshot, records, seq));
    await handle.sync();
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, outFile);
  return { seq, records: records.length };
}

function* exportParts(snapshot: Snapshot | null, records: JournalRecord[], seq: number): Generator<Buffer> {
  yield EXPORT_MAGIC;
  const header = { format: FORMAT, version: 1, snapshot: snapshot !== null, records: records.length, blobs: snapshot?.blobs.length ?? 0, meta: snapshot?.meta ?? null };
  yield encodeRecord({ seq: snapshot?.seq ?? 0, header, frames: [] });
  for (const blob of snapshot?.blobs ?? []) yield encodeRecord({ seq: snapshot!.seq, header: {}, frames: [blob] });
  for (const record of records) yield encodeRecord(record);
  yield encodeRecord({ seq, header: { end: true }, frames: [] });
}

function* journalParts(records: JournalRecord[]): Generator<Buffer> {
  yield JOURNAL_MAGIC;
  for (const record of records) yield encodeRecord(record);
}

/** Checks an export whole, a record at a time, then writes it as the state of `dir`, which must hold none yet. */
export async function importState(inFile: string, dir: string): Promise<{ seq: number; records: number }> {
  const reader = await RecordReader.open(inFile).catch((error: NodeJS.ErrnoException) => {
    throw new JournalError(`Cannot read ${inFile}: ${error.code ?? error.message}.`);
  });
  let content: { snapshot: Snapshot | null; records: JournalRecord[]; from: number; seq: number };
  try {
    content = await readExport(reader, inFile);
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code ? new JournalError(`Cannot read ${inFile}: ${(error as NodeJS.ErrnoException).code}.`) : error;
  } finally {
    await reader.close();
  }
  const { snapshot, records, from, seq } = content;

  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await fs.readdir(dir)).some((name) => /^(journal|snapshot)-\d+\./.test(name)))
    throw new JournalError(`${dir} already holds a session; import into an empty directory.`);
  if (snapshot) await writeSnapshot(dir, snapshot);
  const handle = await fs.open(path.join(dir, `journal-${String(from).padStart(12, "0")}.log`), "w", 0o600);
  try {
    await writeInGroups(handle, journalParts(records));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncDir(dir);
  return { seq, records: records.length };
}

async function readExport(reader: RecordReader, inFile: string) {
  const bad = (why: string): never => {
    throw new JournalError(`${inFile} is not a usable session export: ${why}.`);
  };
  if (!(await reader.hasMagic(EXPORT_MAGIC))) bad("it does not start as one");
  let at = EXPORT_MAGIC.length;
  const next = async () => {
    const result = await reader.read(at);
    if ("error" in result) return bad(`${result.error} at byte ${at}`);
    at = result.next;
    return result.record;
  };
  const head = await next();
  const header = head.header;
  if (header["format"] !== FORMAT || header["version"] !== 1) bad("its format or version is not one this curvehost reads");
  let snapshot: Snapshot | null = null;
  if (header["snapshot"] === true) {
    const blobs: Buffer[] = [];
    for (let i = 0; i < Number(header["blobs"]); i++) blobs.push((await next()).frames[0] ?? bad("a snapshot blob is missing"));
    snapshot = { seq: head.seq, meta: header["meta"] as Record<string, unknown>, blobs };
  }
  const records: JournalRecord[] = [];
  let seq = head.seq;
  for (let i = 0; i < Number(header["records"]); i++) {
    const record = await next();
    if (record.seq !== seq + 1) bad(`seq jumps from ${seq} to ${record.seq}`);
    seq = record.seq;
    records.push(record);
  }
  const end = await next();
  if (end.header["end"] !== true || at !== reader.size) bad("it does not end where it should (cut short or padded)");
  return { snapshot, records, from: head.seq, seq };
}
