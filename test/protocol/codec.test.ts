import test from "ava";
import { ERROR_CODES, MAX_HEADER_BYTES, type ErrorCode, decodeMessage, decodeRequest, encode, ProtocolError } from "../../src/protocol/index.js";
import { generateKeyPair } from "../../src/keys/index.js";
import { prng, runSeed } from "../helpers/prng.js";

const frame = (value: unknown) => Buffer.from(JSON.stringify(value));

test("every request type is accepted on its own port and refused on the others", async (t) => {
  const key = (await generateKeyPair()).publicKey;
  const nonce = Buffer.alloc(24, 1).toString("base64");
  const valid: Record<"command" | "publisher" | "ttl", Array<[object, Buffer[]]>> = {
    command: [
      [{ type: "hello" }, []],
      [{ type: "join", protocol: 1, key, nonce, proof: "AAAA" }, []],
      [{ type: "leave" }, []],
      [{ type: "catalog" }, []],
      [{ type: "fetch", ids: ["a", "b"] }, []],
      [{ type: "resync", since: 0 }, []],
      [{ type: "lock", ids: ["a"], force: true }, []],
      [{ type: "unlock", ids: ["a"] }, []],
      [{ type: "delete", ids: ["a"] }, []],
      [{ type: "open" }, []],
      [{ type: "kick", user: "bob" }, []],
      [{ type: "metadata", data: { color: "red" } }, []],
      [{ type: "users" }, []],
    ],
    publisher: [[{ type: "commit", id: "n", kind: "mesh", deps: [], mode: "full" }, [Buffer.from("x")]]],
    ttl: [[{ type: "pong", n: 3 }, []]],
  };
  for (const [port, requests] of Object.entries(valid) as Array<[keyof typeof valid, Array<[object, Buffer[]]>]>) {
    for (const [header, payload] of requests) {
      const decoded = decodeRequest(port, [frame({ ...header, ref: 9 }), ...payload]);
      t.true(decoded.ok, `${port} ${JSON.stringify(header)}`);
      for (const other of ["command", "publisher", "ttl"] as const) {
        if (other === port) continue;
        const refused = decodeRequest(other, [frame({ ...header, ref: 9 }), ...payload]);
        t.like(refused, { ok: false, error: { code: "unknown_type", ref: 9 } }, `${(header as { type: string }).type} on ${other}`);
      }
    }
  }
});

const refusals: Array<[string, Buffer[], ErrorCode]> = [
  ["missing ids", [frame({ type: "lock", ref: 1 })], "bad_request"],
  ["ids of the wrong type", [frame({ type: "fetch", ref: 1, ids: "a" })], "bad_request"],
  ["an empty id", [frame({ type: "fetch", ref: 1, ids: [""] })], "bad_request"],
  ["an id of 129 characters", [frame({ type: "fetch", ref: 1, ids: ["x".repeat(129)] })], "bad_request"],
  ["a huge kick name", [frame({ type: "kick", ref: 1, user: "x".repeat(10_000) })], "bad_request"],
  ["an oversized header", [frame({ type: "hello", pad: "x".repeat(MAX_HEADER_BYTES) })], "too_large"],
  ["100k ids in one request", [frame({ type: "fetch", ids: Array.from({ length: 100_000 }, (_, i) => String(i)) })], "too_large"],
  ["10,000 nested arrays", [Buffer.from("[".repeat(10_000) + "]".repeat(10_000))], "bad_request"],
  ["deep data in metadata", [Buffer.from(`{"type":"metadata","data":${'{"a":'.repeat(40)}1${"}".repeat(40)}}`)], "bad_request"],
  ["non-JSON", [Buffer.from("hello")], "bad_request"],
  ["invalid UTF-8", [Buffer.from([0x7b, 0xff, 0xfe, 0x7d])], "bad_request"],
  ["JSON null", [Buffer.from("null")], "bad_request"],
  ["a JSON number", [Buffer.from("42")], "bad_request"],
  ["a JSON array", [Buffer.from("[]")], "bad_request"],
  ["no type", [frame({ ref: 1 })], "bad_request"],
  ["a numeric type", [frame({ type: 7 })], "bad_request"],
  ["a prototype name as type", [frame({ type: "__proto__" })], "unknown_type"],
  ["an extra frame", [frame({ type: "hello" }), Buffer.from("x")], "bad_request"],
  ["no frames", [], "bad_request"],
  ["another protocol", [frame({ type: "join", protocol: 2, key: "x", nonce: "", proof: "" })], "protocol_mismatch"],
  ["a negative resync", [frame({ type: "resync", since: -1 })], "bad_request"],
];

for (const [what, frames, code] of refusals) {
  test(`${what} is refused with ${code}`, (t) => {
    const decoded = decodeRequest("command", frames);
    t.false(decoded.ok);
    if (!decoded.ok) {
      t.is(decoded.error.code, code);
      t.true(decoded.error.message.length < 200, "a short message, never the input echoed");
    }
  });
}

test("a commit needs exactly one payload frame", (t) => {
  t.like(decodeRequest("publisher", [frame({ type: "commit", id: "a", kind: "", deps: [], mode: "full" })]), { ok: false, error: { code: "bad_request" } });
  t.like(decodeRequest("publisher", [frame({ type: "commit", id: "a", kind: "", deps: [], mode: "full" }), Buffer.from("1"), Buffer.from("2")]), {
    ok: false,
    error: { code: "bad_request", message: "commit takes exactly 1 payload frame" },
  });
});

test("a valid ref is echoed in the error; an invalid one is dropped", (t) => {
  t.like(decodeRequest("command", [frame({ type: "fetch", ref: "abc", ids: 5 })]), { ok: false, error: { ref: "abc" } });
  const dropped = decodeRequest("command", [frame({ type: "fetch", ref: "x".repeat(200), ids: 5 })]);
  t.false(!dropped.ok && "ref" in dropped.error);
});

test("server messages round-trip through encode and decodeMessage", (t) => {
  const messages = [
    { type: "hello", ref: 1, server: "curvehost", version: "0.1.0", protocol: 1, session: "s", state: "open", users: 2 },
    { type: "welcome", ref: 1, user: "a", role: "admin", state: "waiting", seq: 4, users: [{ name: "a", role: "admin", state: "joined", latency: null }] },
    { type: "ok", ref: "r", seq: 3 },
    { type: "error", ref: 2, code: "denied", message: "no" },
    { type: "catalog", ref: 1, seq: 9, last: true, nodes: [{ id: "a", owner: "common", deps: [], kind: "k", size: 3, deltas: 0 }] },
    { type: "nodes", ref: 1, last: false, nodes: [{ id: "a", owner: "b", deps: [], kind: "k", frames: 1 }, { id: "z", owner: "", deps: [], kind: "", frames: 0, removed: true }] },
    { type: "resynced", ref: 1, seq: 12 },
    { type: "users", ref: 1, users: [] },
    { type: "kicked", by: "root" },
    { type: "rejected", ref: 1, id: null, code: "bad_request", message: "m" },
    { type: "ping", n: 4 },
    { type: "commit", seq: 1, from: "a", id: "n", kind: "", deps: [], mode: "delta", owner: "a" },
    { type: "rights", seq: 2, from: "a", ids: ["n"], owner: "common" },
    { type: "delete", seq: 3, from: "a", ids: ["n"] },
    { type: "session", seq: 4, state: "closing" },
    { type: "users", seq: 5, users: [{ name: "a", role: "member", state: "joined", latency: 3 }] },
    { type: "presence", from: "a", data: { x: 1 }, latency: null },
  ];
  for (const message of messages) {
    const { message: decoded, payload } = decodeMessage(encode(message, [Buffer.from("p")]));
    t.deepEqual(decoded, message as never);
    t.deepEqual(payload, [Buffer.from("p")]);
  }
  t.throws(() => decodeMessage([Buffer.from('{"type":"nonsense"}')]), { instanceOf: ProtocolError });
});


test("thousands of random and mutated messages never make the decoder throw", (t) => {
  const seed = runSeed();
  const random = prng(seed);
  const seeds = [
    frame({ type: "commit", ref: 1, id: "node", kind: "mesh", deps: ["a"], mode: "full" }),
    frame({ type: "fetch", ref: "x", ids: ["a", "b", "c"] }),
    frame({ type: "metadata", data: { color: [1, 2, 3], nested: { a: "b" } } }),
    frame({ type: "join", protocol: 1, key: "x".repeat(40), nonce: "AAAA", proof: "BBBB" }),
  ];
  const ports = ["command", "publisher", "ttl"] as const;
  for (let i = 0; i < 5000; i++) {
    const base = Buffer.from(seeds[Math.floor(random() * seeds.length)]!);
    const mutations = 1 + Math.floor(random() * 8);
    for (let m = 0; m < mutations; m++) base[Math.floor(random() * base.length)] = Math.floor(random() * 256);
    const frames = random() < 0.1 ? [Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)))] : [base];
    if (random() < 0.3) frames.push(Buffer.from("payload"));
    const port = ports[Math.floor(random() * ports.length)]!;
    let decoded;
    try {
      decoded = decodeRequest(port, frames);
    } catch (error) {
      t.fail(`seed ${seed}, iteration ${i}: decodeRequest threw ${(error as Error).message} (CURVEHOST_SEED=${seed} repeats it)`);
      return;
    }
    if (!decoded.ok && !(ERROR_CODES as readonly string[]).includes(decoded.error.code)) t.fail(`seed ${seed}: unknown code ${decoded.error.code}`);
  }
  t.pass();
});
