/**
 * The most recent published events, exactly as they went out, so that a client
 * that missed some (a gap in seq, a reconnection) can ask for them again with
 * `resync`. Bounded in bytes; older events fall off and a resync from before
 * them is `too_old`.
 *
 * Events are packed into chunks, not kept as objects, so that garbage
 * collections do not walk tens of thousands of them (BENCHMARKS.md, Findings:
 * resync history). Frames up to INLINE_FRAME_BYTES are copied into the chunk's
 * buffer; larger ones are kept by reference (usually the buffer the session
 * holds, so not duplicated).
 */

export interface PublishedEvent {
  seq: number;
  frames: Buffer[];
}

/** Frames up to this size are copied into a chunk; larger ones are referenced. */
const INLINE_FRAME_BYTES = 4096;
/** The inline buffer a chunk starts with; an event bigger than that gets a buffer of its own size. */
const CHUNK_INLINE_BYTES = 64 * 1024;
/** A chunk closes once it holds this many bytes, inline and referenced: the unit in which history falls off. */
const CHUNK_HELD_BYTES = 1024 * 1024;
/** A record starts with its seq (float64) and its frame count (uint32), then one uint32 descriptor per frame. */
const RECORD_HEAD_BYTES = 12;
/** Set in a frame's descriptor when the frame is referenced; the low bits are then its index in `refs`. */
const REFERENCED = 0x8000_0000;

interface Chunk {
  /** Records, each its head (RECORD_HEAD_BYTES and the descriptors) then its inline frames. */
  inline: Buffer;
  used: number;
  refs: Buffer[];
  /** Bytes held, inline and referenced. */
  held: number;
  lastSeq: number;
}

export class History {
  private readonly chunks: Chunk[] = [];
  private bytes = 0;
  /** The seq before the oldest event held: a resync from here or later can be served. */
  private floor: number;

  constructor(
    private readonly maxBytes: number,
    startSeq: number,
  ) {
    this.floor = startSeq;
  }

  add(seq: number, frames: readonly Buffer[]): void {
    let inlineBytes = RECORD_HEAD_BYTES + 4 * frames.length;
    let heldBytes = 0;
    for (const frame of frames) {
      if (frame.length <= INLINE_FRAME_BYTES) inlineBytes += frame.length;
      heldBytes += frame.length;
    }
    const chunk = this.chunkFor(inlineBytes, heldBytes);
    const { inline } = chunk;
    const offset = chunk.used;
    inline.writeDoubleLE(seq, offset);
    inline.writeUInt32LE(frames.length, offset + 8);
    let data = offset + RECORD_HEAD_BYTES + 4 * frames.length;
    for (const [i, frame] of frames.entries()) {
      const descriptorAt = offset + RECORD_HEAD_BYTES + 4 * i;
      if (frame.length <= INLINE_FRAME_BYTES) {
        inline.writeUInt32LE(frame.length, descriptorAt);
        data += frame.copy(inline, data);
      } else {
        inline.writeUInt32LE((REFERENCED | chunk.refs.length) >>> 0, descriptorAt);
        chunk.refs.push(frame);
      }
    }
    chunk.used = data;
    chunk.held += heldBytes;
    chunk.lastSeq = seq;
    this.bytes += heldBytes;
    // Whole chunks fall off, oldest first; the newest always stays.
    while (this.bytes > this.maxBytes && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.bytes -= dropped.held;
      this.floor = dropped.lastSeq;
    }
  }

  /** Events after `since`, or null when some of them are no longer held. */
  since(since: number): PublishedEvent[] | null {
    if (since < this.floor) return null;
    const result: PublishedEvent[] = [];
    for (const chunk of this.chunks) {
      if (chunk.lastSeq <= since) continue;
      const { inline, refs } = chunk;
      let offset = 0;
      while (offset < chunk.used) {
        const seq = inline.readDoubleLE(offset);
        const count = inline.readUInt32LE(offset + 8);
        let data = offset + RECORD_HEAD_BYTES + 4 * count;
        const frames: Buffer[] = [];
        for (let i = 0; i < count; i++) {
          const descriptor = inline.readUInt32LE(offset + RECORD_HEAD_BYTES + 4 * i);
          if (descriptor & REFERENCED) {
            frames.push(refs[descriptor & ~REFERENCED]!);
          } else {
            frames.push(inline.subarray(data, data + descriptor));
            data += descriptor;
          }
        }
        if (seq > since) result.push({ seq, frames });
        offset = data;
      }
    }
    return result;
  }

  /** The newest chunk if the event fits, else a new one. */
  private chunkFor(inlineBytes: number, heldBytes: number): Chunk {
    const last = this.chunks.at(-1);
    if (last && last.used + inlineBytes <= last.inline.length && (last.held + heldBytes <= CHUNK_HELD_BYTES || last.used === 0)) return last;
    const chunk: Chunk = { inline: Buffer.allocUnsafeSlow(Math.max(CHUNK_INLINE_BYTES, inlineBytes)), used: 0, refs: [], held: 0, lastSeq: this.floor };
    this.chunks.push(chunk);
    return chunk;
  }
}
