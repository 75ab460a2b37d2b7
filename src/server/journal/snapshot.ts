/**
 * A snapshot: the whole live state as of one seq, in the record format —
 * one record holding the meta, one per blob, and an end record that proves the
 * file whole. Written to a temporary name, synced, then renamed.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { SNAPSHOT_MAGIC, encodeRecord } from "./format.js";
import { RecordReader } from "./reader.js";

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
    await writeInGroups(handle, snapshotParts(snapshot));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
  await syncDir(dir);
  return file;
}

function* snapshotParts(snapshot: Snapshot): Generator<Buffer> {
  yield SNAPSHOT_MAGIC;
  yield encodeRecord({ seq: snapshot.seq, header: { meta: snapshot.meta, blobs: snapshot.blobs.length }, frames: [] });
  for (const blob of snapshot.blobs) yield encodeRecord({ seq: snapshot.seq, header: {}, frames: [blob] });
  yield encodeRecord({ seq: snapshot.seq, header: { end: true, blobs: snapshot.blobs.length }, frames: [] });
}

/** Reads a snapshot, a record at a time; null when it is incomplete or damaged (a crash while it was written). */
export async function readSnapshot(file: string): Promise<Snapshot | null> {
  const reader = await RecordReader.open(file);
  try {
    if (!(await reader.hasMagic(SNAPSHOT_MAGIC))) return null;
    const head = await reader.read(SNAPSHOT_MAGIC.length);
    if ("error" in head) return null;
    const { seq, header } = head.record;
    const count = header["blobs"];
    if (typeof count !== "number") return null;
    const blobs: Buffer[] = [];
    let next = head.next;
    for (let i = 0; i < count; i++) {
      const blob = await reader.read(next);
      if ("error" in blob || blob.record.frames.length !== 1) return null;
      blobs.push(blob.record.frames[0]!);
      next = blob.next;
    }
    const end = await reader.read(next);
    if ("error" in end || end.record.header["end"] !== true || end.next !== reader.size) return null;
    return { seq, meta: header["meta"] as Record<string, unknown>, blobs };
  } finally {
    await reader.close();
  }
}

/** Writes buffers a group at a time (64 of them, or 16 MiB): a large state is never one Buffer, nor one write. */
export async function writeInGroups(handle: fs.FileHandle, buffers: Iterable<Buffer>): Promise<void> {
  let group: Buffer[] = [];
  let bytes = 0;
  for (const buffer of buffers) {
    group.push(buffer);
    bytes += buffer.length;
    if (group.length === 64 || bytes >= 16 << 20) {
      await writeFully(handle, group);
      [group, bytes] = [[], 0];
    }
  }
  await writeFully(handle, group);
}

/**
 * writev until every byte is written: one call may write less (Linux writes at most about
 * 2 GiB at once), and FileHandle.writev does not go on by itself.
 */
export async function writeFully(handle: fs.FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending);
    if (bytesWritten === 0) throw new Error("the file system took no bytes");
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) bytesWritten -= pending.shift()!.length;
    if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
