/**
 * Frames (PROTOCOL.md §2): a JSON header, one newline byte, then the body; a
 * message larger than a frame goes as its first frame and `more` pieces. This
 * module knows nothing of message types: it cuts messages into frames and puts
 * frames back together into messages.
 */
import { MAX_JSON_DEPTH, MAX_REF_LENGTH } from "./limits.js";
import type { ErrorCode } from "./errors.js";

export const NEWLINE = 0x0a;

export type Header = Record<string, unknown>;

/** A whole message: its parsed header and its body. */
export interface Message {
  header: Header;
  body: Buffer;
}

export interface WireFailure {
  code: ErrorCode;
  message: string;
  /** The `ref` of the message refused, when it could be read. */
  ref?: string | number;
  /** Its type, when it could be read. */
  type?: string;
  /** The node at fault, when there is one. */
  id?: string;
}

export type Parsed = { ok: true; header: Header; body: Buffer } | { ok: false; error: WireFailure };

// ---- sending ---------------------------------------------------------------

/** The body's bytes as a list of buffers, so that large parts are copied only into the frames that carry them. */
export type Body = readonly Buffer[];

function bodyLength(body: Body): number {
  let length = 0;
  for (const part of body) length += part.length;
  return length;
}

/** Copies body bytes into frames, from wherever the last copy stopped. */
class BodyCursor {
  private part = 0;
  private offset = 0;
  constructor(private readonly body: Body) {}

  copyInto(target: Buffer, at: number, count: number): void {
    while (count > 0) {
      const part = this.body[this.part]!;
      const n = Math.min(count, part.length - this.offset);
      part.copy(target, at, this.offset, this.offset + n);
      at += n;
      count -= n;
      this.offset += n;
      if (this.offset === part.length) [this.part, this.offset] = [this.part + 1, 0];
    }
  }
}

function frameOf(head: Buffer, capacityUsed: number, cursor: BodyCursor): Buffer {
  const frame = Buffer.allocUnsafe(head.length + 1 + capacityUsed);
  head.copy(frame, 0);
  frame[head.length] = NEWLINE;
  cursor.copyInto(frame, head.length + 1, capacityUsed);
  return frame;
}

/**
 * The frames of one message, made as they are taken: one frame when it fits in
 * `frameBytes`, else the header with `size` and as much body as fits, then
 * `more` pieces. A message waiting in a queue is thus not copied into frames
 * before its turn, and a long reply never whole ahead of its sending.
 */
export function* framesOf(header: Header, body: Body, frameBytes: number): Generator<Buffer, void, undefined> {
  const frame = wholeFrame(JSON.stringify(header), "", body, frameBytes);
  if (frame) yield frame;
  else yield* piecesOf(header, body, frameBytes);
}

/** A message larger than a frame, in pieces (PROTOCOL.md §2). */
function* piecesOf(header: Header, body: Body, frameBytes: number): Generator<Buffer, void, undefined> {
  const total = bodyLength(body);
  const cursor = new BodyCursor(body);
  const first = Buffer.from(JSON.stringify({ ...header, size: total }));
  let sent = Math.min(total, frameBytes - first.length - 1);
  if (sent <= 0) throw new RangeError(`a ${String(header["type"])} header of ${first.length} bytes does not fit in a frame of ${frameBytes}`);
  yield frameOf(first, sent, cursor);
  while (sent < total) {
    const head = Buffer.from(JSON.stringify({ type: "more", offset: sent }));
    const count = Math.min(total - sent, frameBytes - head.length - 1);
    yield frameOf(head, count, cursor);
    sent += count;
  }
}

/** The bytes of a message's header and of `body` (the parts of its body a caller made for it). */
export function messageBytes(header: Header, body: Body = []): number {
  return Buffer.byteLength(JSON.stringify(header)) + 1 + bodyLength(body);
}

/** Every frame of a message at once, for messages known to be small or wanted whole. */
export function toFrames(header: Header, body: Body = [], frameBytes: number): Buffer[] {
  const frame = wholeFrame(JSON.stringify(header), "", body, frameBytes);
  return frame ? [frame] : [...piecesOf(header, body, frameBytes)];
}

/**
 * A message whose body is a manifest's JSON text then `parts` (PROTOCOL.md §2),
 * in frames; the manifest's length in bytes goes into the header's `manifest`.
 */
export function toFramesWithManifest(header: Header, manifest: string, parts: Body, frameBytes: number): Buffer[] {
  const manifestBytes = Buffer.byteLength(manifest);
  header["manifest"] = manifestBytes;
  const frame = wholeFrame(JSON.stringify(header), manifest, parts, frameBytes, manifestBytes);
  return frame ? [frame] : [...piecesOf(header, [Buffer.from(manifest), ...parts], frameBytes)];
}

/**
 * The one frame of a message that fits in `frameBytes` (every event at a few
 * hundred a second), written straight from its JSON texts into one buffer:
 * no generator, no intermediate buffer per text. Null when it does not fit.
 */
function wholeFrame(headerText: string, bodyText: string, parts: Body, frameBytes: number, bodyTextBytes = Buffer.byteLength(bodyText)): Buffer | null {
  const headerBytes = Buffer.byteLength(headerText);
  const length = headerBytes + 1 + bodyTextBytes + bodyLength(parts);
  if (length > frameBytes) return null;
  const frame = Buffer.allocUnsafe(length);
  let at = frame.write(headerText, 0);
  frame[at++] = NEWLINE;
  if (bodyTextBytes > 0) at += frame.write(bodyText, at);
  for (const part of parts) at += part.copy(frame, at);
  return frame;
}

// ---- receiving -------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * True when arrays and objects in a parsed value nest deeper than `limit`. JSON.parse
 * itself takes any depth (V8 parses iteratively); what comes after it (zod, re-serialising)
 * recurses, so deeper values are refused. Walked on the value, not scanned on the text: a
 * walk visits each field once, where a scan read every character of every message.
 */
export function tooDeep(value: unknown, limit: number = MAX_JSON_DEPTH, depth = 0): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (depth >= limit) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (tooDeep(item, limit, depth + 1)) return true;
  } else {
    for (const key in value) if (tooDeep((value as Record<string, unknown>)[key], limit, depth + 1)) return true;
  }
  return false;
}

/** Parses JSON text from bytes: UTF-8, bounded nesting. Throws a sentence on anything else. */
export function parseJson(bytes: Buffer, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new Error(`${what} is not UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  if (tooDeep(value)) throw new Error(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

export function refOf(header: Header): string | number | undefined {
  const ref = header["ref"];
  if (typeof ref === "number" && Number.isFinite(ref)) return ref;
  if (typeof ref === "string" && ref.length <= MAX_REF_LENGTH) return ref;
  return undefined;
}

/**
 * Splits one frame into its header object and body. `headerBytes` bounds the
 * header: no newline within it is `header_too_large`. A frame with no newline at
 * all is read whole as a header with `framed: false`, so that a protocol-1
 * client (which sent headers alone) can be told `protocol_mismatch`.
 */
export function parseFrame(frame: Buffer, headerBytes: number): Parsed & { framed?: false } {
  const newline = frame.indexOf(NEWLINE);
  const framed = newline >= 0;
  const end = framed ? newline : frame.length;
  if (end > headerBytes) return { ok: false, error: { code: "header_too_large", message: `a header is at most ${headerBytes} bytes` } };
  let header: unknown;
  try {
    header = parseJson(frame.subarray(0, end), "the header");
  } catch (error) {
    return { ok: false, error: { code: "bad_request", message: (error as Error).message } };
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    return { ok: false, error: { code: "bad_request", message: "the header is not a JSON object" } };
  const fields = header as Header;
  const ref = refOf(fields);
  const type = fields["type"];
  if (typeof type !== "string") return { ok: false, error: { code: "bad_request", message: "the header has no type", ...(ref === undefined ? {} : { ref }) } };
  const body = framed ? frame.subarray(newline + 1) : frame.subarray(frame.length);
  return framed ? { ok: true, header: fields, body } : { ok: true, header: fields, body, framed: false };
}

/** How many body bytes a message may announce, by its header; null when it may not come in pieces at all. */
export type BodyLimit = (header: Header) => { bytes: number; code: ErrorCode } | null;

export type Assembled = { ok: true; message: Message; framed: boolean } | { ok: false; error: WireFailure };

/**
 * Puts one connection's frames back together into messages (PROTOCOL.md §2,
 * pieces). A message announced larger than its limit is refused at its first
 * frame and its pieces are then dropped; a new message cut into an incomplete
 * one ends that one as `incomplete`; a `more` that continues nothing is dropped.
 */
export class Assembler {
  private current: { header: Header; size: number; pieces: Buffer[]; received: number } | null = null;

  constructor(
    private readonly headerBytes: number,
    private readonly bodyLimit: BodyLimit,
  ) {}

  /** The bytes held for an incomplete message. */
  get held(): number {
    return this.current?.received ?? 0;
  }

  /** What this frame completes or refuses, in order (none while a message is still incomplete). */
  push(frame: Buffer): Assembled[] {
    const parsed = parseFrame(frame, this.headerBytes);
    if (!parsed.ok) {
      const out: Assembled[] = this.abandon();
      out.push(parsed);
      return out;
    }
    const { header, body } = parsed;
    if (header["type"] === "more") return this.continueWith(header, body);
    // Nearly every message: whole in its frame, with nothing held before it.
    if (!this.current && header["size"] === undefined) return [{ ok: true, message: { header, body }, framed: parsed.framed !== false }];
    const out = this.abandon();
    out.push(...this.begin(header, body, parsed.framed !== false));
    return out;
  }

  /** Drops whatever is held. */
  reset(): void {
    this.current = null;
  }

  private begin(header: Header, body: Buffer, framed: boolean): Assembled[] {
    const size = header["size"];
    if (size === undefined) return [{ ok: true, message: { header, body }, framed }];
    // Refused at its first frame: nothing is held, so its pieces continue nothing and are dropped.
    const fail = (code: ErrorCode, message: string): Assembled[] => [{ ok: false, error: failure(header, code, message) }];
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < body.length) return fail("bad_request", "size must be a whole number of bytes, at least the body in this frame");
    if (size === body.length) return [{ ok: true, message: { header, body }, framed }];
    const limit = this.bodyLimit(header);
    if (!limit) return fail("bad_request", `a ${String(header["type"])} cannot come in pieces here`);
    if (size > limit.bytes) return fail(limit.code, `a ${String(header["type"])} body is at most ${limit.bytes} bytes`);
    this.current = { header, size, pieces: [body], received: body.length };
    return [];
  }

  private continueWith(header: Header, body: Buffer): Assembled[] {
    const current = this.current;
    if (!current) return []; // continues nothing (or a message refused at its first frame): dropped
    if (header["offset"] !== current.received || current.received + body.length > current.size) {
      this.current = null;
      return [{ ok: false, error: failure(current.header, "incomplete", "a piece did not continue where the last one ended") }];
    }
    current.pieces.push(body);
    current.received += body.length;
    if (current.received < current.size) return [];
    this.current = null;
    return [{ ok: true, message: { header: current.header, body: Buffer.concat(current.pieces, current.size) }, framed: true }];
  }

  private abandon(): Assembled[] {
    const current = this.current;
    if (!current) return [];
    this.current = null;
    return [{ ok: false, error: failure(current.header, "incomplete", "another message began before this one was whole; send it again") }];
  }
}

function failure(header: Header, code: ErrorCode, message: string): WireFailure {
  const ref = refOf(header);
  const type = typeof header["type"] === "string" ? (header["type"] as string) : undefined;
  return { code, message, ...(ref === undefined ? {} : { ref }), ...(type === undefined ? {} : { type }) };
}
