import test from "ava";
import { Liveness } from "../../src/client/liveness.js";

// PROTOCOL.md §7: a replica below the seq of the ping before last has missed an event, unless events
// are still arriving: then it is only reading behind, and a lost one among them shows as a gap.

test("a replica still below the previous ping's seq, with no event since, missed an event", (t) => {
  const liveness = new Liveness();
  t.false(liveness.ping(10, 9), "the first ping has nothing before it");
  t.true(liveness.ping(10, 9), "no event came for a whole interval: event 10 was lost");
  t.false(liveness.ping(10, 10), "caught up");
});

test("a replica behind while events keep arriving is reading behind, not missing one", (t) => {
  const liveness = new Liveness();
  liveness.ping(100, 40);
  for (let seq = 41; seq <= 60; seq++) liveness.event();
  t.false(liveness.ping(200, 60), "events came since the ping before: no resync");
  liveness.event();
  t.false(liveness.ping(300, 61));
  t.true(liveness.ping(300, 61), "then nothing for a whole interval, still below 300: resync");
});
