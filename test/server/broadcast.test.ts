import test from "ava";
import * as zmq from "zeromq";
import { DEFAULT_LIMITS } from "../../src/protocol/index.js";
import { Broadcaster } from "../../src/server/broadcast.js";
import { History } from "../../src/server/history.js";
import { Session } from "../../src/server/session.js";

/** A broadcaster without a journal on an unbound PUB (what it sends goes nowhere), and what it keeps. */
function broadcaster(t: import("ava").ExecutionContext) {
  const socket = new zmq.Publisher();
  t.teardown(() => socket.close());
  const session = new Session("open", DEFAULT_LIMITS);
  const history = new History(1 << 30, 0);
  const broadcast = new Broadcaster(session, socket, history, null, DEFAULT_LIMITS.frame, (error) => t.fail(error.message));
  const commit = (nodes: Array<{ id: string; data: Buffer }>) => {
    const entries = nodes.map((node) => ({ ...node, size: node.data.length }));
    const { change, parts } = session.planCommit({ name: "alice", role: "member" }, entries, undefined);
    return broadcast.publish(change, parts);
  };
  return { session, history, commit };
}

/** Whether `part` lies inside `frame`'s memory. */
const within = (part: Buffer, frame: Buffer) => part.buffer === frame.buffer && part.byteOffset >= frame.byteOffset && part.byteOffset + part.length <= frame.byteOffset + frame.length;

// The history keeps each published frame for resync; a node that was a copy of its bytes held them
// twice (BENCHMARKS.md, Findings: memory).
test("a committed node's bytes are held once: the session's part is a view of the frame the history keeps", (t) => {
  const { session, history, commit } = broadcaster(t);
  const data = Buffer.alloc(10 * 1024, 7);
  const event = commit([{ id: "mesh", data }]);
  const [published] = history.since(event.seq - 1)!;
  const part = session.nodes.get("mesh")!.parts[0]!;
  t.true(part.equals(data));
  t.true(within(part, published!.frames[0]!), "the node is a view of the published frame");
});

test("a small node in a large batch keeps its own bytes, so that it cannot keep the whole frame alive", (t) => {
  const { session, history, commit } = broadcaster(t);
  const event = commit([{ id: "small", data: Buffer.from("tiny") }, { id: "large", data: Buffer.alloc(64 * 1024, 1) }]);
  const frame = history.since(event.seq - 1)![0]!.frames[0]!;
  t.false(within(session.nodes.get("small")!.parts[0]!, frame));
  t.is(session.nodes.get("small")!.parts[0]!.toString(), "tiny");
  t.true(within(session.nodes.get("large")!.parts[0]!, frame));
});

test("a node in pieces (larger than a frame) keeps its own bytes too", (t) => {
  const { session, history, commit } = broadcaster(t);
  const data = Buffer.alloc(DEFAULT_LIMITS.frame * 2, 3);
  const event = commit([{ id: "big", data }]);
  const frames = history.since(event.seq - 1)![0]!.frames;
  t.true(frames.length > 1);
  const part = session.nodes.get("big")!.parts[0]!;
  t.true(part.equals(data));
  t.false(frames.some((frame) => within(part, frame)));
});
