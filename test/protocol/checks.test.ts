import test from "ava";
import { z } from "zod";
import { UNSURE, compile } from "../../src/protocol/checks.js";
import { REQUESTS, commitEntry, eventEntry } from "../../src/protocol/messages.js";
import { prng, runSeed } from "../helpers/prng.js";

const seed = runSeed();
const random = prng(seed);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

const KEY = "rq:rA>$c6}[Fv8zNBcOp)hS#oKB[6Oy^=KXp5Jy/"; // 40 Z85 characters
const strings = ["", "a", "common", "full", "delta", "commit", "pong", KEY, KEY + "x", "AAAA==", "A=A", "x".repeat(63), "x".repeat(64), "x".repeat(65), "x".repeat(128), "x".repeat(129), "é", "\n"];
const numbers = [0, -0, 1, -1, 1.5, 2, 27, 128, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300];

/** A value of any JSON kind, shallow or nested. */
function anything(depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 2 ? 5 : 7));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return pick(numbers);
    case 3:
    case 4:
      return pick(strings);
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => anything(depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(["id", "size", "type", "x", "deps"]), anything(depth + 1)]));
  }
}

/** A value close to what the schema takes: each field valid, missing, replaced, or joined by an unknown one. */
function near(schema: z.ZodType, depth = 0): unknown {
  const def = (schema as unknown as { _zod: { def: Record<string, any> } })._zod.def;
  if (random() < 0.08 || depth > 4) return anything(depth);
  switch (def["type"]) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def["shape"] as Record<string, z.ZodType>)) if (random() < 0.9) out[key] = near(field, depth + 1);
      if (random() < 0.2) out["extra"] = anything(depth + 1);
      return out;
    }
    case "optional":
      return near(def["innerType"], depth);
    case "union":
      return near(pick(def["options"] as z.ZodType[]), depth);
    case "array":
      return Array.from({ length: Math.floor(random() * 4) }, () => near(def["element"], depth + 1));
    case "literal":
      return pick(def["values"] as unknown[]);
    case "enum":
      return pick(Object.values(def["entries"] as Record<string, unknown>));
    case "number":
      return pick(numbers);
    case "string":
      return pick(strings);
    case "boolean":
      return random() < 0.5;
    default:
      return anything(depth);
  }
}

const schemas: Array<[string, z.ZodType]> = [
  ...Object.entries(REQUESTS).flatMap(([port, byType]) => Object.entries(byType).map(([type, schema]): [string, z.ZodType] => [`${port} ${type}`, schema as z.ZodType])),
  ["commit entry", commitEntry],
  ["event entry", eventEntry],
];

test(`a compiled check agrees with zod wherever it answers, and answers for every valid value of the hot schemas (seed ${seed})`, (t) => {
  let answered = 0;
  for (const [name, schema] of schemas) {
    const check = compile(schema);
    if (!check) continue; // zod alone checks it
    for (let i = 0; i < 3000; i++) {
      const value = near(schema);
      const zod = schema.safeParse(value);
      const out = check(value);
      if (out === UNSURE) {
        t.false(zod.success, `${name}: unsure of a value zod takes: ${JSON.stringify(value)}`);
      } else {
        answered++;
        t.true(zod.success, `${name}: took a value zod refuses: ${JSON.stringify(value)}`);
        if (zod.success) t.deepEqual(out, zod.data, `${name}: ${JSON.stringify(value)}`);
      }
    }
  }
  t.true(answered > 1000, `only ${answered} values were answered by a compiled check`);
});

test("the hot schemas compile; one using what the compiler does not know does not", (t) => {
  t.not(compile(REQUESTS.publisher.commit), null);
  t.not(compile(REQUESTS.ttl.pong), null);
  t.not(compile(commitEntry), null);
  t.is(compile(REQUESTS.command.presence), null, "a record is left to zod");
  t.is(compile(z.string().email()), null);
  t.is(compile(z.string().regex(/a/g)), null);
});

test("a compiled check keeps the declared fields only, as zod does, and refuses what zod refuses", (t) => {
  const check = compile(commitEntry)!;
  t.deepEqual(check({ id: "a", size: 3, extra: { deep: 1 }, mode: "delta" }), { id: "a", size: 3, mode: "delta" });
  for (const bad of [{ id: "", size: 1 }, { id: "a", size: -1 }, { id: "a", size: 1.5 }, { id: "a", size: 2 ** 53 }, { id: "a" }, { id: "a", size: 1, owner: "bob" }, { id: "a", size: 1, deps: [""] }, null, []])
    t.is(check(bad), UNSURE, JSON.stringify(bad));
});
