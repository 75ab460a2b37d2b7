/**
 * Telling a torn tail from damage in the middle: after the first damaged record of the newest
 * journal, does a whole record with a later seq follow? If so the damage is in the middle (a bit
 * flipped, a block lost) and open() refuses without --repair; if not, the tail of a write that a
 * crash cut short is cut off.
 *
 * Any offset may start that record, and a record is only known whole once its checksum, over
 * up to 4 GiB, is checked: trying every offset (as this did before) is O(tail × lengths), hours
 * for a tail of 64 MiB crafted so that every offset holds a length that fits. So one pass looks
 * at each offset for what every such record has in its first 21 bytes — a body length that
 * fits in the file; a seq above `lastSeq` and no higher than the rest of the file could number;
 * a header length that fits in the body; a header that opens as JSON (the header must parse as
 * an object or array) — and only an offset that has it all is checked whole. Those checks are
 * given a budget of bytes (BUDGET_FACTOR × the tail + BUDGET_FLOOR); a tail that needs more is
 * taken to hold a later record, which refuses the start and leaves --repair to the host rather
 * than cut anything unasked. Work: one read of the tail, plus at most the budget.
 */
import { MIN_BODY, RECORD_PREFIX } from "./format.js";
import type { RecordReader } from "./reader.js";

const SCAN_CHUNK = 4 << 20;
/** The bytes from a record's start that the pass looks at: length, checksum, seq, header length, the header's first byte. */
const LOOK = 21;
const MIN_RECORD = RECORD_PREFIX + MIN_BODY;
const BUDGET_FACTOR = 4;
const BUDGET_FLOOR = 64 << 20;
/** What JSON may open with before an object or array: whitespace, "{", "[". */
const OPENS_JSON = new Set([0x20, 0x09, 0x0a, 0x0d, 0x7b, 0x5b]);

export interface TailVerdict {
  /** Whether a later record may follow (found, or the budget ran out before the tail was ruled out). */
  laterRecord: boolean;
  /** The work done, in bytes looked at: the tail once, and the body of each candidate checked whole. */
  work: number;
}

export async function laterRecordMayFollow(reader: RecordReader, from: number, lastSeq: number): Promise<TailVerdict> {
  const size = reader.size;
  const budgetGiven = BUDGET_FACTOR * (size - from) + BUDGET_FLOOR;
  let budget = budgetGiven;
  const verdict = (laterRecord: boolean): TailVerdict => ({ laterRecord, work: Math.max(0, size - from) + budgetGiven - budget });
  const highestSeq = lastSeq + Math.floor((size - from) / MIN_RECORD) + 1;
  const chunk = Buffer.allocUnsafe(SCAN_CHUNK + LOOK);
  const zeros = Buffer.alloc(4096 + 3);
  // Offsets from `from` up to the last at which a record still fits, chunk by chunk; each chunk
  // holds LOOK bytes past its last offset, which the next chunk looks at again.
  for (let base = from; base + MIN_RECORD <= size; base += SCAN_CHUNK) {
    const got = await reader.readInto(chunk, base);
    const offsets = Math.min(SCAN_CHUNK, size - MIN_RECORD + 1 - base);
    const room = size - base - 8; // the longest body that fits, from offset i: room - i
    for (let i = 0; i < offsets; i++) {
      // A length of zero starts no record: skip runs of zeros (a sparse hole, a file system's
      // zero-filled tail) a block at a time.
      if (chunk[i] === 0 && i % 4096 === 0 && i + zeros.length <= got && chunk.compare(zeros, 0, zeros.length, i, i + zeros.length) === 0) {
        i += 4095;
        continue;
      }
      // The bytes by hand, not readUInt32BE: three times faster in this loop, which sees every offset.
      const length = u32(chunk, i);
      if (length < MIN_BODY || length > room - i) continue;
      const seq = u32(chunk, i + 8) * 2 ** 32 + u32(chunk, i + 12);
      if (seq <= lastSeq || seq > highestSeq) continue;
      const headerLength = u32(chunk, i + 16);
      if (headerLength < 2 || headerLength > length - 16 || !OPENS_JSON.has(chunk[i + 20]!)) continue;
      if (length > budget) return verdict(true);
      budget -= length;
      const read = await reader.read(base + i);
      if (!("error" in read) && read.seq > lastSeq) return verdict(true);
    }
  }
  return verdict(false);
}

function u32(buffer: Buffer, at: number): number {
  return ((buffer[at]! << 24) | (buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!) >>> 0;
}
