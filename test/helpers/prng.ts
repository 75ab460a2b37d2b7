/** mulberry32: a small seeded generator, so a failing randomised test can be replayed from its seed. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for this run: CURVEHOST_SEED if set, otherwise a fresh one. */
export function runSeed(): number {
  return Number(process.env["CURVEHOST_SEED"] ?? Date.now() % 1_000_000);
}
