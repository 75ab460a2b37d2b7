import test from "ava";
import { History } from "../../src/server/history.js";

/** A message like the ones the server publishes: a JSON header and `sizes` payload frames of seq-derived bytes. */
function message(seq: number, sizes: number[]): Buffer[] {
  return [Buffer.from(JSON.stringify({ type: "commit", seq })), ...sizes.map((size) => Buffer.alloc(size, seq % 251))];
}

test("events come back exactly as added, across chunks, inline and referenced frames alike", (t) => {
  const history = new History(1 << 30, 0);
  // Sizes either side of the inline limit, empty frames, and enough small events to fill several chunks.
  const shapes = [[], [0], [1], [4096], [4097], [65536], [10, 20, 5000], [1024]];
  const added: Array<{ seq: number; frames: Buffer[] }> = [];
  for (let seq = 1; seq <= 3000; seq++) {
    const frames = message(seq, shapes[seq % shapes.length]!);
    history.add(seq, frames);
    added.push({ seq, frames });
  }
  const all = history.since(0)!;
  t.is(all.length, 3000);
  for (const [i, event] of all.entries()) {
    t.is(event.seq, added[i]!.seq);
    const expected = added[i]!.frames;
    // Compared byte for byte, frame by frame (ava's deepEqual is slow on thousands of buffers).
    if (event.frames.length !== expected.length || event.frames.some((frame, f) => !frame.equals(expected[f]!))) t.fail(`seq ${event.seq} differs`);
  }
  t.deepEqual(history.since(2990)!.map((event) => event.seq), [2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000]);
  t.deepEqual(history.since(3000), []);
  t.pass();
});

test("past its byte limit the oldest events fall off and a resync from before them is refused (null)", (t) => {
  const history = new History(4 * 1024 * 1024, 0);
  for (let seq = 1; seq <= 10_000; seq++) history.add(seq, message(seq, [1024]));
  t.is(history.since(0), null, "seq 1 is long gone");
  t.is(history.since(5000), null);
  const held = history.since(9000)!;
  t.deepEqual(held.map((event) => event.seq), Array.from({ length: 1000 }, (_, i) => 9001 + i));
  // What is held is a contiguous tail: find where it starts and check it is served from there.
  let [low, floor] = [5000, 9000]; // since(low) is refused, since(floor) is served
  while (floor - low > 1) {
    const middle = Math.floor((low + floor) / 2);
    if (history.since(middle) === null) low = middle;
    else floor = middle;
  }
  t.true(floor > 5000 && floor < 9000, `floor ${floor}`);
  t.is(history.since(floor)!.length, 10_000 - floor);
  t.is(history.since(floor)![0]!.seq, floor + 1);
});

test("the newest event stays even when it alone is over the limit; a restart's history starts at its seq", (t) => {
  const history = new History(1024, 41);
  t.is(history.since(40), null, "before the restart's first seq");
  t.deepEqual(history.since(41), []);
  // Each over a megabyte: a chunk of its own, so the older one falls off whole.
  history.add(42, message(42, [2_000_000]));
  history.add(43, message(43, [3_000_000]));
  t.is(history.since(41), null);
  const [newest, ...rest] = history.since(42)!;
  t.is(rest.length, 0);
  t.is(newest!.seq, 43);
  t.true(Buffer.concat(newest!.frames).equals(Buffer.concat(message(43, [3_000_000]))));
});
