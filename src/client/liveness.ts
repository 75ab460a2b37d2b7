/**
 * Whether the server is still there (PROTOCOL.md §7): the time of the last ping,
 * checked against the timeout, and whether the last pings say the replica is
 * behind an event that nothing else revealed.
 */
export class Liveness {
  private lastPing = Date.now();
  /** The seq the previous ping carried. */
  private previousSeq = 0;
  /** Whether an event came on the subscriber port since the previous ping. */
  private eventSincePrevious = false;
  private timer: NodeJS.Timeout | undefined;

  /** Starts watching; `lost` is called once no ping came for `timeoutMs()`. */
  start(timeoutMs: () => number, lost: (reason: string) => void): void {
    this.lastPing = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastPing > timeoutMs()) lost("no ping from the server");
    }, Math.min(500, timeoutMs()));
  }

  /** An event came on the subscriber port. */
  event(): void {
    this.eventSincePrevious = true;
  }

  /**
   * A ping came with `seq`; returns whether a replica at `replicaSeq` missed an
   * event the ping before already counted. A client still receiving events is only
   * reading behind (a lost one among them shows as a gap in their seqs), so it is
   * behind only if nothing came since that ping: otherwise a client that reads
   * slower than events come would ask a resync at every ping, and the replays
   * would slow it further.
   */
  ping(seq: number, replicaSeq: number): boolean {
    this.lastPing = Date.now();
    const behind = replicaSeq < this.previousSeq && !this.eventSincePrevious;
    this.previousSeq = seq;
    this.eventSincePrevious = false;
    return behind;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
