import test from "ava";
import {
  Assembler,
  DEFAULT_LIMITS,
  ERROR_CODES,
  ProtocolError,
  decodeRequest,
  decodeServerMessage,
  framesOf,
  idsBody,
  nodesBody,
  parseFrame,
  toFrames,
  type ErrorCode,
  type Header,
  type RequestPort,
} from "../../src/protocol/index.js";
import { generateKeyPair } from "../../src/keys/index.js";
import { prng, runSeed } from "../helpers/prng.js";
import { frame } from "../helpers/raw.js";

const limits = DEFAULT_LIMITS;
const advertised = { ...limits, ping: 1000, timeout: 5000 };

/** Decodes one whole frame as the server does for a message that is not in pieces. */
function decode<P extends RequestPort>(port: P, bytes: Buffer) {
  const parsed = parseFrame(bytes, limits.header);
  if (!parsed.ok) return parsed;
  return decodeRequest(port, { header: parsed.header, body: parsed.body }, parsed.framed !== false, limits);
}

const commit = (entries: object[], parts: Buffer[], extra: object = {}) => {
  const { manifest, body } = nodesBody(entries, parts);
  return frame({ type: "commit", ref: 1, manifest, ...extra }, Buffer.concat(body));
};

test("every request type is accepted on its own port and refused on the others", async (t) => {
  const key = (await generateKeyPair()).publicKey;
  const nonce = Buffer.alloc(24, 1).toString("base64");
  const ids = Buffer.concat(idsBody(["a", "b"]));
  const valid: Record<RequestPort, Buffer[]> = {
    command: [
      frame({ type: "hello", protocol: 2 }),
      frame({ type: "join", protocol: 2, key, nonce, proof: "AAAA" }),
      frame({ type: "leave" }),
      frame({ type: "catalog" }),
      frame({ type: "fetch" }),
      frame({ type: "fetch" }, ids),
      frame({ type: "resync", since: 0 }),
      frame({ type: "lock", force: true }, ids),
      frame({ type: "unlock" }, ids),
      frame({ type: "give", to: "bob" }, ids),
      frame({ type: "delete" }, ids),
      frame({ type: "open" }),
      frame({ type: "kick", user: "bob" }),
      frame({ type: "presence", data: { color: "red" } }),
      frame({ type: "users" }),
    ],
    publisher: [commit([{ id: "n", kind: "mesh", size: 1 }], [Buffer.from("x")])],
    ttl: [frame({ type: "pong", n: 3 })],
  };
  for (const [port, frames] of Object.entries(valid) as Array<[RequestPort, Buffer[]]>) {
    for (const bytes of frames) {
      const decoded = decode(port, bytes);
      t.true(decoded.ok, `${port} ${bytes.toString().slice(0, 80)}: ${JSON.stringify(!decoded.ok && decoded.error)}`);
      for (const other of ["command", "publisher", "ttl"] as const) {
        if (other === port) continue;
        t.like(decode(other, bytes), { ok: false, error: { code: "unknown_type" } }, `${bytes.toString().slice(0, 40)} on ${other}`);
      }
    }
  }
});

test("bodies are read into ids and nodes", (t) => {
  const lock = decode("command", frame({ type: "lock", ref: 1 }, Buffer.concat(idsBody(["a", "b"]))));
  t.like(lock, { ok: true, request: { type: "lock", ids: ["a", "b"] } });
  const fetchAll = decode("command", frame({ type: "fetch" }));
  t.true(fetchAll.ok && fetchAll.request.ids === undefined, "no body: every node");
  const batch = decode("publisher", commit([{ id: "a", size: 2 }, { id: "b", size: 3, mode: "delta", deps: ["a"], owner: "common" }], [Buffer.from("aa"), Buffer.from("bbb")]));
  t.true(batch.ok);
  if (batch.ok) {
    t.deepEqual(
      batch.request.nodes!.map((node) => [node.id, node.data.toString(), node.mode, node.deps, node.owner]),
      [
        ["a", "aa", undefined, undefined, undefined],
        ["b", "bbb", "delta", ["a"], "common"],
      ],
    );
  }
});

const refusals: Array<[string, RequestPort, Buffer, ErrorCode]> = [
  ["a lock without ids", "command", frame({ type: "lock", ref: 1 }), "bad_request"],
  ["an empty id list", "command", frame({ type: "lock" }, Buffer.from("[]")), "bad_request"],
  ["an id list that is not JSON", "command", frame({ type: "lock" }, Buffer.from("a,b")), "bad_request"],
  ["an id list of numbers", "command", frame({ type: "fetch" }, Buffer.from("[1,2]")), "bad_request"],
  ["an id of 129 characters", "command", frame({ type: "fetch" }, Buffer.from(JSON.stringify(["x".repeat(129)]))), "bad_request"],
  ["an id list over the limit", "command", frame({ type: "fetch" }, Buffer.from(JSON.stringify(Array.from({ length: limits.ids + 1 }, () => "a")))), "too_many_ids"],
  ["a body where none is taken", "command", frame({ type: "open" }, Buffer.from("x")), "bad_request"],
  ["a huge kick name", "command", frame({ type: "kick", ref: 1, user: "x".repeat(10_000) }), "bad_request"],
  ["an oversized header", "command", frame({ type: "hello", protocol: 2, pad: "x".repeat(limits.header) }), "header_too_large"],
  ["10,000 nested arrays", "command", Buffer.from("[".repeat(10_000) + "]".repeat(10_000) + "\n"), "bad_request"],
  ["deep data in presence", "command", Buffer.from(`{"type":"presence","data":${'{"a":'.repeat(40)}1${"}".repeat(40)}}\n`), "bad_request"],
  ["non-JSON", "command", Buffer.from("hello\n"), "bad_request"],
  ["invalid UTF-8", "command", Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), "bad_request"],
  ["JSON null", "command", Buffer.from("null\n"), "bad_request"],
  ["a JSON array", "command", Buffer.from("[]\n"), "bad_request"],
  ["no type", "command", frame({ ref: 1 }), "bad_request"],
  ["a numeric type", "command", frame({ type: 7 }), "bad_request"],
  ["a prototype name as type", "command", frame({ type: "__proto__" }), "unknown_type"],
  ["a join of protocol 1", "command", frame({ type: "join", protocol: 1, key: "x", nonce: "", proof: "" }), "protocol_mismatch"],
  ["a hello without a protocol", "command", frame({ type: "hello" }), "protocol_mismatch"],
  ["a protocol-1 hello: a header with no newline", "command", Buffer.from('{"type":"hello"}'), "protocol_mismatch"],
  ["a protocol-1 join: a header with no newline", "command", Buffer.from('{"type":"join","protocol":1}'), "protocol_mismatch"],
  ["any other header with no newline", "command", Buffer.from('{"type":"users"}'), "bad_request"],
  ["a negative resync", "command", frame({ type: "resync", since: -1 }), "bad_request"],
  ["a size smaller than the body", "command", frame({ type: "users", size: 0 }, Buffer.from("x")), "bad_request"],
  ["a commit with no node", "publisher", commit([], []), "bad_request"],
  ["a manifest longer than the body", "publisher", frame({ type: "commit", manifest: 500 }, Buffer.from("[]")), "bad_request"],
  ["sizes that do not add up", "publisher", commit([{ id: "a", size: 5 }], [Buffer.from("abc")]), "bad_request"],
  ["bytes left over", "publisher", commit([{ id: "a", size: 1 }], [Buffer.from("abc")]), "bad_request"],
  ["a node twice in one commit", "publisher", commit([{ id: "a", size: 1 }, { id: "a", size: 1 }], [Buffer.from("a"), Buffer.from("b")]), "bad_request"],
  ["an owner other than common", "publisher", commit([{ id: "a", size: 1, owner: "bob" }], [Buffer.from("a")]), "bad_request"],
  ["a kind of 65 characters", "publisher", commit([{ id: "a", size: 1, kind: "k".repeat(65) }], [Buffer.from("a")]), "bad_request"],
  ["too many nodes", "publisher", commit(Array.from({ length: limits.batch + 1 }, (_, i) => ({ id: `n${i}`, size: 0 })), []), "batch_too_large"],
  ["too many deps", "publisher", commit([{ id: "a", size: 0, deps: Array.from({ length: limits.deps + 1 }, (_, i) => `d${i}`) }], []), "too_many_deps"],
];

for (const [what, port, bytes, code] of refusals) {
  test(`${what} is refused with ${code}`, (t) => {
    const decoded = decode(port, bytes);
    t.false(decoded.ok);
    if (!decoded.ok) {
      t.is(decoded.error.code, code);
      t.true(decoded.error.message.length < 200, "a short message, never the input echoed");
    }
  });
}

test("a node over the node limit is refused by name", (t) => {
  const small = { ...limits, node: 4 };
  const parsed = parseFrame(commit([{ id: "big", size: 5 }], [Buffer.from("12345")]), limits.header);
  t.true(parsed.ok);
  if (parsed.ok) t.like(decodeRequest("publisher", parsed, true, small), { ok: false, error: { code: "node_too_large", id: "big" } });
});

test("JSON nested deeper than 32 levels is refused, in a header and in a manifest; 32 levels are read", (t) => {
  const nested = (levels: number): unknown => (levels === 0 ? 1 : [nested(levels - 1)]);
  t.like(decode("command", frame({ type: "users", ref: 1, x: nested(31) })), { ok: true }); // the header is the 32nd level
  t.like(decode("command", frame({ type: "users", ref: 1, x: nested(32) })), { ok: false, error: { code: "bad_request" } });
  const deep = decode("publisher", commit([{ id: "a", size: 1, x: nested(40) }], [Buffer.from("1")]));
  t.like(deep, { ok: false, error: { code: "bad_request" } });
  t.regex(!deep.ok ? deep.error.message : "", /nests deeper than 32 levels/);
  // As deep as a header can hold: refused by name all the same, not a crash.
  const levels = Math.floor((limits.header - 64) / 2);
  const huge = decode("command", Buffer.from(`{"type":"users","x":${"[".repeat(levels)}${"]".repeat(levels)}}\n`));
  t.regex(!huge.ok ? huge.error.message : "", /nests deeper than 32 levels/);
});

test("a valid ref is echoed in the error; an invalid one is dropped", (t) => {
  t.like(decode("command", frame({ type: "fetch", ref: "abc" }, Buffer.from("5"))), { ok: false, error: { ref: "abc" } });
  const dropped = decode("command", frame({ type: "fetch", ref: "x".repeat(200) }, Buffer.from("5")));
  t.false(!dropped.ok && "ref" in dropped.error);
});

test("a message larger than a frame goes in pieces and comes back whole", (t) => {
  const body = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  const frames = toFrames({ type: "nodes", ref: 7, seq: 1, manifest: 0 }, [body.subarray(0, 3000), body.subarray(3000)], 1024);
  t.true(frames.length > 9);
  t.true(frames.every((f) => f.length <= 1024), "no frame over the frame size");
  t.deepEqual(JSON.parse(frames[0]!.subarray(0, frames[0]!.indexOf(10)).toString()), { type: "nodes", ref: 7, seq: 1, manifest: 0, size: 10_000 });
  t.deepEqual(JSON.parse(frames[1]!.subarray(0, frames[1]!.indexOf(10)).toString()).type, "more");
  const assembler = new Assembler(1024, () => ({ bytes: 1_000_000, code: "commit_too_large" }));
  const results = frames.flatMap((f) => assembler.push(f));
  t.is(results.length, 1);
  t.true(results[0]!.ok && results[0]!.message.body.equals(body));
  t.is(assembler.held, 0);
});

test("pieces: a message announced over its limit is refused once and its pieces dropped", (t) => {
  const frames = toFrames({ type: "commit", ref: 3, manifest: 0 }, [Buffer.alloc(5000)], 1024);
  const assembler = new Assembler(1024, (header: Header) => (header["type"] === "commit" ? { bytes: 4000, code: "commit_too_large" } : null));
  const results = frames.flatMap((f) => assembler.push(f));
  t.deepEqual(results, [{ ok: false, error: { code: "commit_too_large", message: "a commit body is at most 4000 bytes", ref: 3, type: "commit" } }]);
  t.is(assembler.held, 0);
  // A port that takes no pieces refuses the first frame, likewise.
  t.like(new Assembler(1024, () => null).push(frames[0]!), [{ ok: false, error: { code: "bad_request", ref: 3 } }]);
});

test("pieces: a message cut into by another is incomplete; a piece out of place ends it; a stray piece is dropped", (t) => {
  const frames = toFrames({ type: "commit", ref: 4, manifest: 0 }, [Buffer.alloc(3000)], 1024);
  const assembler = new Assembler(1024, () => ({ bytes: 1_000_000, code: "commit_too_large" }));
  t.deepEqual(assembler.push(frames[0]!), []);
  t.true(assembler.held > 0);
  const cut = assembler.push(frame({ type: "users", ref: 5 }));
  t.like(cut, [{ ok: false, error: { code: "incomplete", ref: 4 } }, { ok: true, message: { header: { type: "users", ref: 5 } } }]);
  t.deepEqual(assembler.push(frames[1]!), [], "the rest of the abandoned message continues nothing");
  t.deepEqual(assembler.push(frames[0]!), []);
  t.like(assembler.push(frames[2]!), [{ ok: false, error: { code: "incomplete", ref: 4 } }], "offsets must follow on");
  t.is(assembler.held, 0);
});

test("server messages, bodies included, round-trip through frames and decodeServerMessage", (t) => {
  const manifest = nodesBody([{ id: "n", kind: "mesh", mode: "delta", owner: "a", size: 2, deps: ["m"] }], [Buffer.from("xy")]);
  const fetched = nodesBody([{ id: "a", owner: "b", kind: "k", deps: [], parts: [1, 2] }, { id: "z", removed: true }], [Buffer.from("p"), Buffer.from("qr")]);
  const messages: Array<[Header, Buffer[]]> = [
    [{ type: "hello", ref: 1, server: "curvehost", version: "0.2.0", protocol: 2, session: "s", state: "open", users: 2, limits: advertised }, []],
    [{ type: "welcome", ref: 1, protocol: 2, user: "a", role: "admin", state: "waiting", seq: 4, users: [{ name: "a", role: "admin", state: "joined", latency: null }], presence: { a: { data: { frame: 3 }, latency: 2 } }, limits: advertised }, []],
    [{ type: "ok", ref: "r", seq: 3 }, []],
    [{ type: "error", ref: 2, code: "denied", message: "no" }, []],
    [{ type: "resynced", ref: 1, seq: 12, presence: {} }, []],
    [{ type: "users", ref: 1, users: [] }, []],
    [{ type: "kicked", by: "root" }, []],
    [{ type: "rejected", ref: 1, id: "n", code: "denied", message: "m" }, []],
    [{ type: "ping", n: 4, seq: 9 }, []],
    [{ type: "session", seq: 4, state: "closing" }, []],
    [{ type: "users", seq: 5, users: [{ name: "a", role: "member", state: "joined", latency: 3 }] }, []],
    [{ type: "presence", from: "a", data: { x: 1 }, latency: null }, []],
  ];
  for (const [header, body] of messages) {
    const [only] = toFrames(header, body, limits.frame);
    const parsed = parseFrame(only!, limits.frame);
    t.true(parsed.ok);
    if (parsed.ok) t.deepEqual(decodeServerMessage(parsed), header as never);
  }
  const read = (header: Header, body: Buffer[]) => {
    const assembler = new Assembler(limits.frame, () => ({ bytes: 1e9, code: "bad_request" }));
    const [result] = [...framesOf(header, body, 128)].flatMap((f) => assembler.push(f));
    return result!.ok ? decodeServerMessage(result!.message) : t.fail(JSON.stringify(result));
  };
  t.like(read({ type: "commit", seq: 1, from: "a", manifest: manifest.manifest }, [...manifest.body]), { nodes: [{ id: "n", data: Buffer.from("xy"), deps: ["m"] }] });
  t.like(read({ type: "rights", seq: 2, from: "a", owner: "common" }, [...idsBody(["n", "m"])]), { ids: ["n", "m"] });
  t.like(read({ type: "delete", seq: 3, from: "a" }, [...idsBody(["n"])]), { ids: ["n"] });
  t.like(read({ type: "nodes", ref: 1, seq: 3, manifest: fetched.manifest, state: "open", users: [] }, [...fetched.body]), { nodes: [{ id: "a", parts: [Buffer.from("p"), Buffer.from("qr")] }, { id: "z", removed: true }] });
  t.like(read({ type: "catalog", ref: 1, seq: 3 }, [Buffer.from(JSON.stringify([{ id: "a", owner: "c", kind: "", deps: [], size: 3, deltas: 1 }]))]), { nodes: [{ id: "a", deltas: 1 }] });
  t.throws(() => decodeServerMessage({ header: { type: "nonsense" }, body: Buffer.alloc(0) }), { instanceOf: ProtocolError });
  t.throws(() => decodeServerMessage({ header: { type: "rights", seq: 1, from: "a", owner: "b" }, body: Buffer.from("{") }), { instanceOf: ProtocolError });
});

test("a commit event whose manifest does not match its body is refused, naming what is wrong", (t) => {
  const event = (entries: unknown[], body: Buffer, manifest?: number) => {
    const text = Buffer.from(JSON.stringify(entries));
    return () => decodeServerMessage({ header: { type: "commit", seq: 1, from: "a", manifest: manifest ?? text.length }, body: Buffer.concat([text, body]) });
  };
  const entry = { id: "n", kind: "k", mode: "full", owner: "a", size: 3 };
  t.like(event([entry], Buffer.from("abc"))(), { nodes: [{ id: "n", data: Buffer.from("abc") }] });
  t.throws(event([entry], Buffer.from("abc"), 10_000), { instanceOf: ProtocolError, message: /longer than the body/ });
  t.throws(event([entry], Buffer.from("ab")), { instanceOf: ProtocolError, message: /run past the body/ });
  t.throws(event([entry], Buffer.from("abcd")), { instanceOf: ProtocolError, message: /do not add up/ });
  t.throws(event([{ ...entry, mode: "sideways" }], Buffer.from("abc")), { instanceOf: ProtocolError, message: /manifest \[0\]/ });
  t.throws(event([entry, { ...entry, id: 7 }], Buffer.from("abcabc")), { instanceOf: ProtocolError, message: /manifest \[1\]/ });
});

test("thousands of random and mutated frames never make the decoder throw", (t) => {
  const seed = runSeed();
  const random = prng(seed);
  const seeds = [
    commit([{ id: "node", kind: "mesh", deps: ["a"], size: 3 }], [Buffer.from("abc")]),
    frame({ type: "fetch", ref: "x" }, Buffer.concat(idsBody(["a", "b", "c"]))),
    frame({ type: "presence", data: { color: [1, 2, 3], nested: { a: "b" } } }),
    frame({ type: "join", protocol: 2, key: "x".repeat(40), nonce: "AAAA", proof: "BBBB" }),
    ...toFrames({ type: "commit", ref: 1, manifest: 2 }, [Buffer.from("[]"), Buffer.alloc(300)], 128),
  ];
  const ports = ["command", "publisher", "ttl"] as const;
  const assemblers = ports.map(() => new Assembler(limits.header, () => ({ bytes: 4096, code: "commit_too_large" })));
  for (let i = 0; i < 5000; i++) {
    const base = Buffer.from(seeds[Math.floor(random() * seeds.length)]!);
    const mutations = Math.floor(random() * 8);
    for (let m = 0; m < mutations; m++) base[Math.floor(random() * base.length)] = Math.floor(random() * 256);
    const bytes = random() < 0.1 ? Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256))) : base;
    const p = Math.floor(random() * ports.length);
    try {
      for (const result of assemblers[p]!.push(bytes)) {
        const decoded = result.ok ? decodeRequest(ports[p]!, result.message, result.framed, limits) : result;
        if (!decoded.ok && !(ERROR_CODES as readonly string[]).includes(decoded.error.code)) t.fail(`seed ${seed}: unknown code ${decoded.error.code}`);
      }
    } catch (error) {
      t.fail(`seed ${seed}, iteration ${i}: the decoder threw ${(error as Error).message} (CURVEHOST_SEED=${seed} repeats it)`);
      return;
    }
  }
  t.pass();
});
