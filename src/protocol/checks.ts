/**
 * The schemas of messages.ts compiled once into plain checks, for what the
 * server reads from the network on every message: a commit's header and each
 * entry of its manifest, a pong. zod stays the definition and the judge: a
 * compiled check returns exactly what zod would (a copy holding the declared
 * fields only), or UNSURE, and then zod parses and says what is wrong. A schema
 * using anything this file does not know compiles to nothing (null), and zod
 * alone checks it.
 *
 * Why: at a few hundred events a second each event runs with cold caches, and
 * zod's general machinery (a payload and an issues list per value, a call per
 * field) was a visible part of a commit's cost on the main thread
 * (BENCHMARKS.md, paced).
 */
import type { z } from "zod";

export const UNSURE: unique symbol = Symbol("unsure");
export type Check<T> = (value: unknown) => T | typeof UNSURE;

/** The parts of zod's definitions read here (zod 4's `_zod.def`). */
interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  shape?: Record<string, z.ZodType>;
  catchall?: unknown;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
  values?: unknown[];
  entries?: Record<string, unknown>;
}

interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
}

type Test = (value: never) => boolean;

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The schema as a check, or null when it uses something this compiler does not know. */
export function compile<T>(schema: z.ZodType<T>): Check<T> | null {
  return compileNode(schema) as Check<T> | null;
}

function compileNode(schema: z.ZodType): Check<unknown> | null {
  const def = defOf(schema);
  switch (def.type) {
    case "string":
    case "number":
    case "boolean": {
      const tests = refinements(def);
      if (!tests) return null;
      const is = def.type === "string" ? isString : def.type === "number" ? isNumber : isBoolean;
      return (value) => (is(value) && tests.every((test) => test(value as never)) ? value : UNSURE);
    }
    case "literal": {
      const values = def.values ?? [];
      return (value) => (values.includes(value) ? value : UNSURE);
    }
    case "enum": {
      const values = Object.values(def.entries ?? {});
      return (value) => (values.includes(value) ? value : UNSURE);
    }
    case "unknown":
      return (value) => value;
    case "optional": {
      const inner = compileNode(def.innerType!);
      if (!inner) return null;
      return (value) => (value === undefined ? value : inner(value));
    }
    case "union": {
      const options = (def.options ?? []).map(compileNode);
      if (options.some((option) => option === null)) return null;
      const checks = options as Array<Check<unknown>>;
      return (value) => {
        for (const check of checks) {
          const out = check(value);
          if (out !== UNSURE) return out;
        }
        return UNSURE;
      };
    }
    case "array": {
      const element = compileNode(def.element!);
      const tests = refinements(def);
      if (!element || !tests) return null;
      return (value) => {
        if (!Array.isArray(value) || !tests.every((test) => test(value as never))) return UNSURE;
        const out: unknown[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          const item = element(value[i]);
          if (item === UNSURE) return UNSURE;
          out[i] = item;
        }
        return out;
      };
    }
    case "object": {
      if (def.catchall !== undefined || (def.checks?.length ?? 0) > 0) return null;
      const fields = Object.entries(def.shape ?? {}).map(([key, field]) => ({ key, check: compileNode(field), optional: defOf(field).type === "optional" }));
      if (fields.some((field) => field.check === null)) return null;
      return (value) => {
        if (!isObject(value)) return UNSURE;
        const out: Record<string, unknown> = {};
        for (const { key, check, optional } of fields) {
          const field = value[key];
          if (field === undefined) {
            if (optional) continue;
            return UNSURE; // zod decides what a missing field means
          }
          const checked = check!(field);
          if (checked === UNSURE) return UNSURE;
          out[key] = checked;
        }
        return out;
      };
    }
    default:
      return null;
  }
}

const isString = (value: unknown): boolean => typeof value === "string";
// zod's numbers are finite: NaN and the infinities fail.
const isNumber = (value: unknown): boolean => typeof value === "number" && Number.isFinite(value);
const isBoolean = (value: unknown): boolean => typeof value === "boolean";

/** A check of the value's own refinements (lengths, bounds, patterns, integer), or null for one this compiler does not know. */
function refinements(def: Def): Test[] | null {
  const tests: Test[] = [];
  for (const { _zod } of def.checks ?? []) {
    const check = _zod.def;
    switch (check.check) {
      case "min_length":
        tests.push((value: { length: number }) => value.length >= check.minimum!);
        break;
      case "max_length":
        tests.push((value: { length: number }) => value.length <= check.maximum!);
        break;
      case "greater_than":
        tests.push(check.inclusive ? (value: number) => value >= check.value! : (value: number) => value > check.value!);
        break;
      case "less_than":
        tests.push(check.inclusive ? (value: number) => value <= check.value! : (value: number) => value < check.value!);
        break;
      case "number_format":
        if (check.format !== "safeint") return null;
        tests.push((value: number) => Number.isSafeInteger(value));
        break;
      case "string_format": {
        const pattern = check.pattern;
        // A global or sticky pattern keeps state between tests; zod's own handling decides those.
        if (check.format !== "regex" || !pattern || pattern.global || pattern.sticky) return null;
        tests.push((value: string) => pattern.test(value));
        break;
      }
      default:
        return null;
    }
  }
  return tests;
}
