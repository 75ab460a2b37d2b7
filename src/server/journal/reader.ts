/**
 * A record file (journal, snapshot, export) read as a stream: one record at a time, through a
 * window that holds the record at hand and grows only to the largest record met (up to HOLD).
 * So a file of any size opens (fs.readFile refuses files over 2 GiB), in memory for one record
 * beyond the records the caller keeps.
 */
import { promises as fs } from "node:fs";
import { crc32 } from "node:zlib";
import { MIN_BODY, RECORD_PREFIX, parseBody, type JournalRecord } from "./format.js";

/** Reads go to the file in pieces of this size at least. */
const CHUNK = 4 << 20;
/**
 * A record whose body is larger than this is checked by streaming its checksum before the body
 * is held, so that a damaged length field (up to 4 GiB) never makes the reader allocate it.
 */
const HOLD = 64 << 20;

export type Checked = { seq: number; next: number } | { error: string };
export type Read = { seq: number; next: number; record: JournalRecord | null } | { error: string };

export class RecordReader {
  private window = Buffer.alloc(0);
  /** The file offsets the window holds: [start, end). */
  private start = 0;
  private end = 0;

  private constructor(
    private readonly handle: fs.FileHandle,
    readonly size: number,
  ) {}

  /** Opens a regular file; anything else is refused with the code EISDIR or EINVAL, as a read would fail. */
  static async open(file: string): Promise<RecordReader> {
    const handle = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); // a FIFO must not hang it
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: stat.isDirectory() ? "EISDIR" : "EINVAL" });
      return new RecordReader(handle, stat.size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  async hasMagic(magic: Buffer): Promise<boolean> {
    return (await this.bytes(0, magic.length)).equals(magic);
  }

  /** Up to `length` bytes at `offset` (fewer at the end of the file); valid until the next call. */
  async bytes(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.size) return Buffer.alloc(0);
    const end = Math.min(offset + length, this.size);
    if (offset >= this.start && end <= this.end) return this.window.subarray(offset - this.start, end - this.start);
    const want = Math.max(end - offset, Math.min(CHUNK, this.size - offset));
    if (this.window.length < want) this.window = Buffer.allocUnsafe(want);
    const got = await this.readInto(this.window.subarray(0, want), offset);
    [this.start, this.end] = [offset, offset + got];
    return this.window.subarray(0, Math.min(got, end - offset));
  }

  /** Fills `buffer` from `offset`, as far as the file goes; returns how much it read. */
  async readInto(buffer: Buffer, offset: number): Promise<number> {
    let got = 0;
    while (got < buffer.length) {
      const { bytesRead } = await this.handle.read(buffer, got, buffer.length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  /** Checks the record at `offset` as readRecord does (lengths, checksum) without parsing it. */
  async check(offset: number): Promise<Checked> {
    if (offset + RECORD_PREFIX > this.size) return { error: "a record header is cut short" };
    const prefix = await this.bytes(offset, RECORD_PREFIX);
    const length = prefix.readUInt32BE(0);
    const sum = prefix.readUInt32BE(4);
    const next = offset + RECORD_PREFIX + length;
    if (length < MIN_BODY || next > this.size) return { error: "a record is cut short" };
    const bodyAt = offset + RECORD_PREFIX;
    let value = 0;
    let seq = 0;
    for (let at = bodyAt; at < next; ) {
      const piece = await this.bytes(at, length <= HOLD ? next - at : Math.min(CHUNK, next - at));
      if (piece.length < Math.min(8, next - at)) return { error: "a record is cut short" }; // the file shrank under us
      if (at === bodyAt) seq = Number(piece.readBigUInt64BE(0));
      value = crc32(piece, value);
      at += piece.length;
    }
    return value === sum ? { seq, next } : { error: "a record fails its checksum" };
  }

  /**
   * Reads the record at `offset`, as readRecord does. Its frames are parsed only if `keep(seq)`:
   * records before a snapshot are checked whole and skipped without being held.
   */
  async read(offset: number): Promise<{ seq: number; next: number; record: JournalRecord } | { error: string }>;
  async read(offset: number, keep: (seq: number) => boolean): Promise<Read>;
  async read(offset: number, keep: (seq: number) => boolean = () => true): Promise<Read> {
    const checked = await this.check(offset);
    if ("error" in checked || !keep(checked.seq)) return "error" in checked ? checked : { ...checked, record: null };
    const bodyAt = offset + RECORD_PREFIX;
    const length = checked.next - bodyAt;
    let parsed: ReturnType<typeof parseBody>;
    if (length <= HOLD) {
      parsed = parseBody(await this.bytes(bodyAt, length));
    } else {
      // Checked whole already: now it may be held, in a buffer of its own that its frames keep.
      const body = Buffer.allocUnsafe(length);
      if ((await this.readInto(body, bodyAt)) < length) return { error: "a record is cut short" };
      parsed = parseBody(body, { own: true });
    }
    return "error" in parsed ? parsed : { ...checked, record: parsed };
  }
}
