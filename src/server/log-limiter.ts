/**
 * Logs without letting a flood write the disk full: the first event of a kind
 * from one source (a key's fingerprint, an address, a port) is logged at once;
 * the rest within the interval are counted, and the count is logged when the
 * interval ends. A source that goes quiet is forgotten.
 */

const INTERVAL_MS = 10_000;
/** Sources tracked at once; beyond that, further sources share one count. */
const MAX_SOURCES = 10_000;
const OVERFLOW = "(other sources)";

export class LogLimiter {
  private readonly counts = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  /** `report` logs how many events of `source` went unlogged in the interval that ended. */
  constructor(
    private readonly report: (source: string, suppressed: number, seconds: number) => void,
    private readonly intervalMs = INTERVAL_MS,
  ) {}

  /** Whether this event should be logged; if not, it is counted. */
  admit(source: string): boolean {
    const key = this.counts.has(source) || this.counts.size < MAX_SOURCES ? source : OVERFLOW;
    const count = this.counts.get(key);
    this.startTimer();
    if (count === undefined) {
      this.counts.set(key, 0);
      return key !== OVERFLOW;
    }
    this.counts.set(key, count + 1);
    return false;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.counts.clear();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      for (const [source, suppressed] of this.counts) {
        // A source with nothing suppressed is forgotten; one still busy starts a new interval already counted as seen.
        if (suppressed === 0) this.counts.delete(source);
        else {
          this.report(source, suppressed, this.intervalMs / 1000);
          this.counts.set(source, 0);
        }
      }
      if (this.counts.size > 0) this.startTimer();
    }, this.intervalMs);
    this.timer.unref();
  }
}
