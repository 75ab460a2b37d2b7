/**
 * Whether the server is still there (PROTOCOL.md §7): the time of the last ping,
 * checked against the timeout, and whether the last pings say the replica is
 * behind an event that nothing else revealed.
 */
export class Liveness {
  private lastPing = Date.now();
  /** The seq the previous ping carried. */
  private previousSeq = 0;
  private timer: NodeJS.Timeout | undefined;

  /** Starts watching; `lost` is called once no ping came for `timeoutMs()`. */
  start(timeoutMs: () => number, lost: (reason: string) => void): void {
    this.lastPing = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastPing > timeoutMs()) lost("no ping from the server");
    }, Math.min(500, timeoutMs()));
  }

  /** A ping came with `seq`; returns whether a replica at `replicaSeq` missed an event the ping before already counted. */
  ping(seq: number, replicaSeq: number): boolean {
    this.lastPing = Date.now();
    const behind = replicaSeq < this.previousSeq;
    this.previousSeq = seq;
    return behind;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
