/**
 * A snapshot: the whole live state as of one seq, in the record format —
 * one record holding the meta, one per blob, and an end record that proves the
 * file whole. Written to a temporary name, synced, then renamed.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { SNAPSHOT_MAGIC, encodeRecord, hasMagic, readRecord } from "./format.js";

export interface Snapshot {
  seq: number;
  meta: Record<string, unknown>;
  blobs: Buffer[];
}

export function snapshotName(seq: number): string {
  return `snapshot-${String(seq).padStart(12, "0")}.bin`;
}

export async function writeSnapshot(dir: string, snapshot: Snapshot): Promise<string> {
  const file = path.join(dir, snapshotName(snapshot.seq));
  const temporary = `${file}.tmp`;
  const handle = await fs.open(temporary, "w", 0o600);
  try {
    await handle.write(SNAPSHOT_MAGIC);
    await handle.write(encodeRecord({ seq: snapshot.seq, header: { meta: snapshot.meta, blobs: snapshot.blobs.length }, frames: [] }));
    // Blobs are written a few at a time: a 100 MB state is never one Buffer.
    const group: Buffer[] = [];
    for (const blob of snapshot.blobs) {
      group.push(encodeRecord({ seq: snapshot.seq, header: {}, frames: [blob] }));
      if (group.length === 64) await handle.writev(group.splice(0));
    }
    group.push(encodeRecord({ seq: snapshot.seq, header: { end: true, blobs: snapshot.blobs.length }, frames: [] }));
    await handle.writev(group);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
  await syncDir(dir);
  return file;
}

/** Reads a snapshot; null when it is incomplete or damaged (a crash while it was written). */
export async function readSnapshot(file: string): Promise<Snapshot | null> {
  const data = await fs.readFile(file);
  if (!hasMagic(data, SNAPSHOT_MAGIC)) return null;
  let result = readRecord(data, SNAPSHOT_MAGIC.length);
  if ("error" in result) return null;
  const { seq, header } = result.record;
  const count = header["blobs"];
  if (typeof count !== "number") return null;
  const blobs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    result = readRecord(data, result.next);
    if ("error" in result || result.record.frames.length !== 1) return null;
    blobs.push(result.record.frames[0]!);
  }
  result = readRecord(data, result.next);
  if ("error" in result || result.record.header["end"] !== true || result.next !== data.length) return null;
  return { seq, meta: header["meta"] as Record<string, unknown>, blobs };
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
