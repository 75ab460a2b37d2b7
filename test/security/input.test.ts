import test from "ava";
import type * as zmq from "zeromq";
import { joinByHand, rawPeer, receiveWithin, request } from "../helpers/raw.js";
import { nextEvent, startServer } from "../helpers/server.js";
import { attackCounter } from "../helpers/attacks.js";

const attacks = attackCounter("input");

const bad: Array<[string, Buffer[], string]> = [
  ["non-JSON", [Buffer.from("{not json")], "bad_request"],
  ["a JSON array", [Buffer.from("[1,2]")], "bad_request"],
  ["no type", [Buffer.from('{"ref":1}')], "bad_request"],
  ["an unknown type", request({ type: "teleport", ref: 1 }), "unknown_type"],
  ["a publisher type on the command port", request({ type: "commit", ref: 1, id: "x", kind: "", deps: [], mode: "full" }, [Buffer.from("x")]), "unknown_type"],
  ["a header over 64 KiB", [Buffer.from(JSON.stringify({ type: "hello", pad: "x".repeat(70_000) }))], "too_large"],
  ["deep JSON", [Buffer.from("[".repeat(5000) + "]".repeat(5000))], "bad_request"],
  ["an extra frame", [...request({ type: "hello", ref: 1 }), Buffer.from("extra")], "bad_request"],
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
    t.like(JSON.parse(reply![0]!.toString()), { type: "error", code });
    const seen = nextEvent(bob, "event", (event: any) => event.type === "commit" && event.id === "still-here");
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
    [request({ type: "commit", ref: 1, id: "x".repeat(129), kind: "", deps: [], mode: "full" }, [Buffer.from("x")]), "bad_request"],
    [request({ type: "commit", ref: 2, id: "ok", kind: "", deps: [], mode: "full" }), "bad_request"],
    [request({ type: "commit", ref: 3, id: "ok", kind: "", deps: [], mode: "sideways" }, [Buffer.from("x")]), "bad_request"],
    [request({ type: "commit", ref: 4, id: "missing", kind: "", deps: [], mode: "delta" }, [Buffer.from("x")]), "not_found"],
    [request({ type: "commit", ref: 5, id: "ok", kind: "", deps: [], mode: "full" }, [Buffer.from("x"), Buffer.from("y")]), "bad_request"],
    [[Buffer.from("garbage")], "bad_request"],
  ];
  for (const [frames, code] of cases) {
    await user.publisher.send(frames);
    const reply = JSON.parse((await receiveWithin(user.publisher, 3000))![0]!.toString());
    t.is(reply.type, "rejected");
    t.is(reply.code, code, JSON.stringify(reply));
  }
  await watcher.users();
  t.is(watcher.replica.nodes.size, 0);
});
