/**
 * Each key's events in the last `windowMs`, by when they came: the join rate
 * limit (admission.ts) and the rule on second subscriber connections
 * (departures.ts) both count with one.
 */
export class SlidingWindow {
  /** Each key's event times still in the window, oldest first. */
  private readonly times = new Map<string, number[]>();

  constructor(private readonly windowMs: number) {}

  /** Counts an event of `key`, however many came before it; returns how many the window holds with it. */
  add(key: string, now = Date.now()): number {
    const times = this.recent(key, now);
    times.push(now);
    return times.length;
  }

  /**
   * Counts an event of `key` if the window holds fewer than `limit`: returns 0, or else the ms
   * until it does. A refused event is not counted, so that trying again does not put that off.
   */
  take(key: string, limit: number, now = Date.now()): number {
    const times = this.recent(key, now);
    if (times.length >= limit) return times[0]! + this.windowMs - now;
    times.push(now);
    return 0;
  }

  private recent(key: string, now: number): number[] {
    const times = (this.times.get(key) ?? []).filter((time) => now - time < this.windowMs);
    this.times.set(key, times);
    return times;
  }
}
