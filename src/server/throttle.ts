/**
 * Runs an action at once when asked, then at most once an interval however
 * often it is asked meanwhile: the requests inside an interval are served
 * together at its end. A lone request never waits.
 */
export class Throttle {
  private timer: NodeJS.Timeout | null = null;
  private asked = false;
  private closed = false;

  constructor(
    private readonly action: () => void,
    private readonly intervalMs: number,
  ) {}

  request(): void {
    if (this.closed) return;
    if (this.timer) {
      this.asked = true;
      return;
    }
    this.action();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.asked) return;
      this.asked = false;
      this.request();
    }, this.intervalMs);
  }

  /** Drops a request still waiting for its interval to end, and every later one. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
