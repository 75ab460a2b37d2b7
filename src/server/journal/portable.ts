/**
 * A session as one portable file: the host's backup, and the way to move a
 * session to another machine. In the record format, every part checksummed:
 *   magic | header record | snapshot meta record + one record per blob (if any) | journal records | end record
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { JOURNAL_MAGIC, encodeRecord, hasMagic, readRecord, type JournalRecord } from "./format.js";
import { JournalError, scanState } from "./journal.js";
import { syncDir, writeSnapshot, type Snapshot } from "./snapshot.js";

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
  const parts: Buffer[] = [EXPORT_MAGIC];
  parts.push(encodeRecord({ seq: snapshot?.seq ?? 0, header: { format: FORMAT, version: 1, snapshot: snapshot !== null, records: records.length, blobs: snapshot?.blobs.length ?? 0, meta: snapshot?.meta ?? null }, frames: [] }));
  for (const blob of snapshot?.blobs ?? []) parts.push(encodeRecord({ seq: snapshot!.seq, header: {}, frames: [blob] }));
  for (const record of records) parts.push(encodeRecord(record));
  const seq = records.at(-1)?.seq ?? snapshot?.seq ?? 0;
  parts.push(encodeRecord({ seq, header: { end: true }, frames: [] }));
  const temporary = `${outFile}.tmp`;
  await fs.writeFile(temporary, Buffer.concat(parts), { mode: 0o600 });
  await fs.rename(temporary, outFile);
  return { seq, records: records.length };
}

/** Checks an export whole, then writes it as the state of `dir`, which must hold none yet. */
export async function importState(inFile: string, dir: string): Promise<{ seq: number; records: number }> {
  const data = await fs.readFile(inFile).catch((error: NodeJS.ErrnoException) => {
    throw new JournalError(`Cannot read ${inFile}: ${error.code ?? error.message}.`);
  });
  const bad = (why: string): never => {
    throw new JournalError(`${inFile} is not a usable session export: ${why}.`);
  };
  if (!hasMagic(data, EXPORT_MAGIC)) bad("it does not start as one");
  const next = (offset: number) => {
    const result = readRecord(data, offset);
    return "error" in result ? bad(`${result.error} at byte ${offset}`) : result;
  };
  let at = EXPORT_MAGIC.length;
  const head = next(at);
  at = head.next;
  const header = head.record.header;
  if (header["format"] !== FORMAT || header["version"] !== 1) bad("its format or version is not one this curvehost reads");
  let snapshot: Snapshot | null = null;
  if (header["snapshot"] === true) {
    const blobs: Buffer[] = [];
    for (let i = 0; i < Number(header["blobs"]); i++) {
      const blob = next(at);
      at = blob.next;
      blobs.push(blob.record.frames[0] ?? bad("a snapshot blob is missing"));
    }
    snapshot = { seq: head.record.seq, meta: header["meta"] as Record<string, unknown>, blobs };
  }
  const records: JournalRecord[] = [];
  let lastSeq = head.record.seq;
  for (let i = 0; i < Number(header["records"]); i++) {
    const item = next(at);
    at = item.next;
    if (item.record.seq !== lastSeq + 1) bad(`seq jumps from ${lastSeq} to ${item.record.seq}`);
    lastSeq = item.record.seq;
    records.push(item.record);
  }
  const end = next(at);
  if (end.record.header["end"] !== true || end.next !== data.length) bad("it does not end where it should (cut short or padded)");

  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await fs.readdir(dir)).some((name) => /^(journal|snapshot)-\d+\./.test(name)))
    throw new JournalError(`${dir} already holds a session; import into an empty directory.`);
  if (snapshot) await writeSnapshot(dir, snapshot);
  const journal = path.join(dir, `journal-${String(head.record.seq).padStart(12, "0")}.log`);
  await fs.writeFile(journal, Buffer.concat([JOURNAL_MAGIC, ...records.map(encodeRecord)]), { mode: 0o600 });
  const handle = await fs.open(journal, "r+");
  await handle.sync();
  await handle.close();
  await syncDir(dir);
  return { seq: lastSeq, records: records.length };
}
