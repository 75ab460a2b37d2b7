/**
 * Frames to messages and back. A message is a JSON header frame and zero or more
 * opaque payload frames. Decoding never throws on what a client sends: it returns
 * the typed request or the error the client should get (PROTOCOL.md §2).
 */
import type { z } from "zod";
import { ProtocolError, type ErrorCode } from "./errors.js";
import { MAX_HEADER_BYTES, MAX_JSON_DEPTH, MAX_REF_LENGTH, PROTOCOL_VERSION } from "./limits.js";
import { PAYLOAD_FRAMES, REQUESTS, serverMessage, type RequestOn, type RequestPort, type ServerMessage } from "./messages.js";

export function encode(header: object, payload: readonly Buffer[] = []): Buffer[] {
  return [Buffer.from(JSON.stringify(header)), ...payload];
}

export interface DecodeFailure {
  code: ErrorCode;
  message: string;
  ref?: string | number;
}

export type Decoded<P extends RequestPort> =
  | { ok: true; request: RequestOn<P>; payload: Buffer[] }
  | { ok: false; error: DecodeFailure };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True when brackets nest deeper than `limit`, counted on the raw text outside strings. */
function tooDeep(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function validRef(value: unknown): string | number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.length <= MAX_REF_LENGTH) return value;
  return undefined;
}

/** A short sentence naming the first field that failed; never the input itself. */
function describe(type: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `${type}: invalid`;
  const where = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("").replace(/^\./, "");
  return `${type}: ${where || "message"} ${issue.message.length > 120 ? issue.message.slice(0, 120) + "…" : issue.message}`;
}

/** Decodes the frames a client sent on `port` (after the routing id). */
export function decodeRequest<P extends RequestPort>(port: P, frames: readonly Buffer[]): Decoded<P> {
  const fail = (code: ErrorCode, message: string, ref?: string | number): Decoded<P> => ({
    ok: false,
    error: ref === undefined ? { code, message } : { code, message, ref },
  });
  const head = frames[0];
  if (!head) return fail("bad_request", "a message needs a header frame");
  if (head.length > MAX_HEADER_BYTES) return fail("too_large", `a header is at most ${MAX_HEADER_BYTES} bytes`);
  let text: string;
  let header: unknown;
  try {
    text = utf8.decode(head);
  } catch {
    return fail("bad_request", "the header is not UTF-8");
  }
  if (tooDeep(text, MAX_JSON_DEPTH)) return fail("bad_request", `the header nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    header = JSON.parse(text);
  } catch {
    return fail("bad_request", "the header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return fail("bad_request", "the header is not a JSON object");
  const fields = header as Record<string, unknown>;
  const ref = validRef(fields["ref"]);
  const type = fields["type"];
  if (typeof type !== "string") return fail("bad_request", "the header has no type", ref);
  const schemas = REQUESTS[port] as Record<string, z.ZodType>;
  const schema = Object.prototype.hasOwnProperty.call(schemas, type) ? schemas[type] : undefined;
  if (!schema) return fail("unknown_type", `${type.slice(0, 32)} is not a request of the ${port} port`, ref);
  if (type === "join" && fields["protocol"] !== PROTOCOL_VERSION)
    return fail("protocol_mismatch", `this server speaks protocol ${PROTOCOL_VERSION}`, ref);
  const parsed = schema.safeParse(header);
  if (!parsed.success) return fail("bad_request", describe(type, parsed.error), ref);
  const expected = PAYLOAD_FRAMES[type] ?? 0;
  if (frames.length - 1 !== expected)
    return fail("bad_request", expected === 0 ? `${type} takes no payload frame` : `${type} takes exactly ${expected} payload frame`, ref);
  return { ok: true, request: parsed.data as RequestOn<P>, payload: frames.slice(1) as Buffer[] };
}

/** Decodes a message the server sent; throws a ProtocolError for anything else. */
export function decodeMessage(frames: readonly Buffer[]): { message: ServerMessage; payload: Buffer[] } {
  const head = frames[0];
  if (!head) throw new ProtocolError("bad_request", "a message needs a header frame");
  let header: unknown;
  try {
    header = JSON.parse(head.toString("utf8"));
  } catch {
    throw new ProtocolError("bad_request", "the header is not JSON");
  }
  const parsed = serverMessage.safeParse(header);
  if (!parsed.success) throw new ProtocolError("bad_request", describe(String((header as { type?: unknown })?.type), parsed.error));
  return { message: parsed.data, payload: frames.slice(1) as Buffer[] };
}
