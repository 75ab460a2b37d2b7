/**
 * The most recent published events, exactly as they went out, so that a client
 * that missed some (a gap in seq) can ask for them again with `resync`.
 * Bounded in bytes; older events fall off and a resync from before them is `too_old`.
 */

export interface PublishedEvent {
  seq: number;
  frames: Buffer[];
  bytes: number;
}

export class History {
  private readonly events: PublishedEvent[] = [];
  private head = 0;
  private bytes = 0;
  /** The seq before the oldest event held: a resync from here or later can be served. */
  private floor: number;

  constructor(
    private readonly maxBytes: number,
    startSeq: number,
  ) {
    this.floor = startSeq;
  }

  add(seq: number, frames: Buffer[]): void {
    const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
    this.events.push({ seq, frames, bytes });
    this.bytes += bytes;
    while (this.bytes > this.maxBytes && this.head < this.events.length - 1) {
      const dropped = this.events[this.head++]!;
      this.bytes -= dropped.bytes;
      this.floor = dropped.seq;
    }
    // Compact the array now and then rather than shifting on every drop.
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Events after `since`, or null when some of them are no longer held. */
  since(since: number): PublishedEvent[] | null {
    if (since < this.floor) return null;
    const result: PublishedEvent[] = [];
    for (let i = this.head; i < this.events.length; i++) if (this.events[i]!.seq > since) result.push(this.events[i]!);
    return result;
  }
}
