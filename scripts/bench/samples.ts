/**
 * Latency samples in a growable Float64Array: no object per sample, and the
 * backing store lives outside the JavaScript heap, so that recording hundreds
 * of thousands of samples causes no garbage-collection pauses of its own in the
 * load generator (a growing Array of numbers did, of 10–20 ms, in every
 * receiver process, and they showed in both sides' p99).
 */
export class Samples {
  private values = new Float64Array(1 << 16);
  private count = 0;

  add(value: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = value;
  }

  /** A copy of the samples so far. */
  toArray(): Float64Array {
    return this.values.slice(0, this.count);
  }

  clear(): void {
    this.count = 0;
  }
}
