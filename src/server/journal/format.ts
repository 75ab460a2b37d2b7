/**
 * The journal's bytes. A file starts with an 8-byte magic; then records, each
 *   u32 body length | u32 CRC-32 of the body | body
 * and a body is
 *   u64 seq | u32 header length | header JSON | u32 frame count | (u32 length | bytes) per frame.
 * A torn write shows as a short or mis-checksummed last record.
 */
import { crc32 } from "node:zlib";

export interface JournalRecord {
  seq: number;
  header: Record<string, unknown>;
  frames: Buffer[];
}

export const JOURNAL_MAGIC = Buffer.from("CHJRNL01");
export const SNAPSHOT_MAGIC = Buffer.from("CHSNAP01");
const PREFIX = 8;

export function encodeRecord(record: JournalRecord): Buffer {
  const header = Buffer.from(JSON.stringify(record.header));
  let length = 8 + 4 + header.length + 4;
  for (const frame of record.frames) length += 4 + frame.length;
  const out = Buffer.allocUnsafe(PREFIX + length);
  let at = PREFIX;
  out.writeBigUInt64BE(BigInt(record.seq), at);
  at += 8;
  out.writeUInt32BE(header.length, at);
  at += 4;
  header.copy(out, at);
  at += header.length;
  out.writeUInt32BE(record.frames.length, at);
  at += 4;
  for (const frame of record.frames) {
    out.writeUInt32BE(frame.length, at);
    at += 4;
    frame.copy(out, at);
    at += frame.length;
  }
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(crc32(out.subarray(PREFIX)), 4);
  return out;
}

/** A record's length and checksum come before its body. */
export const RECORD_PREFIX = PREFIX;
/** The smallest body: a seq, a header length and a frame count. */
export const MIN_BODY = 16;

/**
 * Parses a record's body, whose checksum has been checked. Frames are copied out of `body`,
 * so that the buffer it lies in can be reused, unless `own` says that buffer is the record's own.
 */
export function parseBody(body: Buffer, { own = false } = {}): JournalRecord | { error: string } {
  try {
    let at = 0;
    const seq = Number(body.readBigUInt64BE(at));
    at += 8;
    const headerLength = body.readUInt32BE(at);
    at += 4;
    const header = JSON.parse(body.subarray(at, at + headerLength).toString("utf8")) as Record<string, unknown>;
    at += headerLength;
    const count = body.readUInt32BE(at);
    at += 4;
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const frameLength = body.readUInt32BE(at);
      at += 4;
      if (at + frameLength > body.length) return { error: "a frame runs past its record" };
      const frame = body.subarray(at, at + frameLength);
      frames.push(own ? frame : Buffer.from(frame));
      at += frameLength;
    }
    if (at !== body.length || typeof header !== "object" || header === null) return { error: "a record has stray bytes" };
    return { seq, header, frames };
  } catch {
    return { error: "a record does not parse" };
  }
}
