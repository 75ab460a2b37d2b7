import test from "ava";
import type * as zmq from "zeromq";
import { commitFrame, frame, headerOf, joinByHand, rawPeer, receiveWithin } from "../helpers/raw.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";
import { attackCounter } from "../helpers/attacks.js";

const attacks = attackCounter("input");

const bad: Array<[string, Buffer[], string]> = [
  ["non-JSON", [Buffer.from("{not json\n")], "bad_request"],
  ["a JSON array", [Buffer.from("[1,2]\n")], "bad_request"],
  ["no type", [Buffer.from('{"ref":1}\n')], "bad_request"],
  ["an unknown type", [frame({ type: "teleport", ref: 1 })], "unknown_type"],
  ["a publisher type on the command port", [commitFrame([{ id: "x", data: Buffer.from("x") }], { ref: 1 })], "unknown_type"],
  ["a header over 64 KiB", [frame({ type: "hello", protocol: 2, pad: "x".repeat(70_000) })], "header_too_large"],
  ["deep JSON", [Buffer.from("[".repeat(5000) + "]".repeat(5000) + "\n")], "bad_request"],
  ["a message of two frames", [frame({ type: "hello", protocol: 2, ref: 1 }), Buffer.from("extra")], "bad_request"],
  ["a protocol-1 hello (a header with no newline)", [Buffer.from('{"type":"hello","ref":1}')], "protocol_mismatch"],
  ["a hello of protocol 1", [frame({ type: "hello", ref: 1, protocol: 1 })], "protocol_mismatch"],
];

for (const [what, frames, code] of bad) {
  test(`${what} on the command port gets ${code}, and the server keeps serving everyone`, async (t) => {
  attacks.count();
    const { server, config, allow, joined } = await startServer(t);
    const alice = await joined("alice");
    const bob = await joined("bob");
    const keys = await allow("prober");
    const socket = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...keys }) as zmq.Dealer;
    t.teardown(() => socket.close());
    await socket.send(frames);
    const reply = await receiveWithin(socket, 3000);
    t.like(headerOf(reply![0]!), { type: "error", code });
    const seen = nextEvent(bob, "event", committed("still-here"));
    await alice.commit("still-here", Buffer.from("ok"));
    await seen;
    t.pass();
  });
}

test("a malformed commit is rejected back to its sender and changes nothing", async (t) => {
  attacks.count();
  const { server, config, allow, joined } = await startServer(t);
  const watcher = await joined("watcher");
  const user = await joinByHand(config.port, server.publicKey, await allow("alice"));
  t.teardown(() => user.close());
  const cases: Array<[Buffer[], string]> = [
    [[commitFrame([{ id: "x".repeat(129), data: Buffer.from("x") }], { ref: 1 })], "bad_request"],
    [[frame({ type: "commit", ref: 2, manifest: 3 }, Buffer.from("[]"))], "bad_request"],
    [[commitFrame([{ id: "ok", mode: "sideways", data: Buffer.from("x") }], { ref: 3 })], "bad_request"],
    [[commitFrame([{ id: "missing", mode: "delta", data: Buffer.from("x") }], { ref: 4 })], "not_found"],
    [[commitFrame([{ id: "ok", data: Buffer.from("x") }, { id: "missing", mode: "delta", data: Buffer.from("y") }], { ref: 6 })], "not_found"],
    [[Buffer.from("garbage")], "bad_request"],
  ];
  for (const [frames, code] of cases) {
    await user.publisher.send(frames);
    const reply = headerOf((await receiveWithin(user.publisher, 3000))![0]!);
    t.is(reply.type, "rejected");
    t.is(reply.code, code, JSON.stringify(reply));
  }
  await watcher.users();
  t.is(watcher.replica.nodes.size, 0);
});
