/**
 * Messages to frames and back, with their bodies (PROTOCOL.md §2): id lists,
 * manifests and parts. Decoding a request never throws on what a client sends:
 * it returns the typed request or the error the client should get.
 */
import type { z } from "zod";
import { UNSURE, compile } from "./checks.js";
import { ProtocolError, type ErrorCode } from "./errors.js";
import { PROTOCOL_VERSION, type Limits } from "./limits.js";
import {
  REQUEST_BODIES,
  REQUESTS,
  SERVER_BODIES,
  SERVER_MESSAGES,
  catalogEntry,
  commitEntry,
  eventEntry,
  fetchedEntry,
  nodeId,
  type CommitNode,
  type EventNode,
  type FetchedNode,
  type Request,
  type RequestPort,
  type ServerMessage,
} from "./messages.js";
import { parseJson, refOf, toFramesWithManifest, type Body, type Header, type Message, type WireFailure } from "./wire.js";

// ---- bodies ------------------------------------------------------------------

/** An id list as a body. */
export function idsBody(ids: readonly string[]): Body {
  return [Buffer.from(JSON.stringify(ids))];
}

/** A manifest and its parts as a body; `manifest` is the length to put in the header. */
export function nodesBody(entries: readonly object[], parts: readonly Buffer[]): { manifest: number; body: Body } {
  const manifest = Buffer.from(JSON.stringify(entries));
  return { manifest: manifest.length, body: [manifest, ...parts] };
}

/** A message with a manifest of `entries` and their parts as its body, in frames; sets the header's `manifest`. */
export function nodesFrames(header: Header, entries: readonly object[], parts: readonly Buffer[], frameBytes: number): Buffer[] {
  return toFramesWithManifest(header, JSON.stringify(entries), parts, frameBytes);
}

function readArray(bytes: Buffer, what: string): unknown[] {
  let value: unknown;
  try {
    value = parseJson(bytes, what);
  } catch (error) {
    throw new ProtocolError("bad_request", (error as Error).message);
  }
  if (!Array.isArray(value)) throw new ProtocolError("bad_request", `${what} is not a JSON array`);
  return value;
}

/** The first problem zod found, as a short sentence naming the field; never the input itself. */
function describe(what: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `${what}: invalid`;
  const where = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("").replace(/^\./, "");
  const text = issue.message.length > 120 ? issue.message.slice(0, 120) + "…" : issue.message;
  return `${what}: ${where || "message"} ${text}`;
}

/** The list schemas of server bodies, made once: the compiled-check cache below is keyed by the schema object. */
const nodeIds = nodeId.array();
const catalogEntries = catalogEntry.array();

/** Each schema's compiled check (checks.ts), made at its first use; null when zod alone can check it. */
const compiledChecks = new Map<z.ZodType, ((value: unknown) => unknown) | null>();

/** The value as `schema` parses it, by its compiled check where that is sure, else by zod; `failed` gets zod's error. */
function parseOr<T>(schema: z.ZodType<T>, value: unknown, failed: (error: z.ZodError) => never): T {
  let check = compiledChecks.get(schema);
  if (check === undefined) compiledChecks.set(schema, (check = compile(schema)));
  const quick = check ? check(value) : UNSURE;
  if (quick !== UNSURE) return quick as T;
  const parsed = schema.safeParse(value);
  if (!parsed.success) failed(parsed.error);
  return parsed.data;
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  return parseOr(schema, value, (error) => {
    throw new ProtocolError("bad_request", describe(what, error));
  });
}

function readIds(body: Buffer, limits: Limits): string[] {
  const list = readArray(body, "the id list");
  if (list.length > limits.ids) throw new ProtocolError("too_many_ids", `an id list holds at most ${limits.ids} ids`);
  if (list.length === 0) throw new ProtocolError("bad_request", "the id list is empty");
  for (const [i, id] of list.entries()) if (!nodeId.safeParse(id).success) throw new ProtocolError("bad_request", `the id list: [${i}] is not an id of 1 to 128 characters`);
  return list as string[];
}

/** Splits a body the server sent into its manifest entries (checked by `check`) and one part per `lengths(entry)`. */
function readNodes<E>(body: Buffer, manifestLength: number, check: (raw: unknown, index: number) => E, lengths: (entry: E) => number[]): Array<{ entry: E; parts: Buffer[] }> {
  if (manifestLength > body.length) throw new ProtocolError("bad_request", "the manifest is longer than the body");
  const raw = readArray(body.subarray(0, manifestLength), "the manifest");
  const entries = raw.map(check);
  let at = manifestLength;
  const out = entries.map((entry) => {
    const parts = lengths(entry).map((length) => {
      if (at + length > body.length) throw new ProtocolError("bad_request", "the manifest's sizes run past the body");
      const part = body.subarray(at, at + length);
      at += length;
      // A small node must not keep a large frame alive: copy parts under half the body.
      return length * 2 < body.length ? Buffer.from(part) : part;
    });
    return { entry, parts };
  });
  if (at !== body.length) throw new ProtocolError("bad_request", "the manifest's sizes do not add up to the body");
  return out;
}

/** Gives each node of a one-part-a-node body its part (`size` bytes, in manifest order); the parts must fill the body. */
function giveParts(nodes: ReadonlyArray<{ size: number; data: Buffer }>, body: Buffer, manifestLength: number): void {
  let at = manifestLength;
  for (const node of nodes) {
    const length = node.size;
    if (at + length > body.length) throw new ProtocolError("bad_request", "the manifest's sizes run past the body");
    const part = body.subarray(at, at + length);
    at += length;
    // A small node must not keep a large frame alive: copy parts under half the body.
    node.data = length * 2 < body.length ? Buffer.from(part) : part;
  }
  if (at !== body.length) throw new ProtocolError("bad_request", "the manifest's sizes do not add up to the body");
}

/**
 * A commit's manifest and parts (PROTOCOL.md §5): the same checks and refusals,
 * in the same order, as readNodes (every entry, then the sizes), without its
 * callbacks and intermediate arrays, since every commit takes this path.
 */
function readCommitNodes(body: Buffer, manifestLength: number, limits: Limits): CommitNode[] {
  if (manifestLength > body.length) throw new ProtocolError("bad_request", "the manifest is longer than the body");
  if (manifestLength > limits.request) throw new ProtocolError("commit_too_large", `a manifest is at most ${limits.request} bytes`);
  const raw = readArray(body.subarray(0, manifestLength), "the manifest");
  const nodes: CommitNode[] = [];
  const seen = raw.length > 1 ? new Set<string>() : null;
  for (let index = 0; index < raw.length; index++) {
    const item = raw[index];
    if (index >= limits.batch) throw new ProtocolError("batch_too_large", `a commit holds at most ${limits.batch} nodes`);
    const deps = (item as { deps?: unknown })?.deps;
    if (Array.isArray(deps) && deps.length > limits.deps) {
      const id = (item as { id?: unknown })?.id;
      throw new ProtocolError("too_many_deps", `a node lists at most ${limits.deps} deps`, typeof id === "string" ? id : undefined);
    }
    let entry = commitEntryCheck ? commitEntryCheck(item) : UNSURE;
    if (entry === UNSURE) entry = parseWith(commitEntry, item, `the manifest [${index}]`);
    if (seen?.has(entry.id)) throw new ProtocolError("bad_request", `node ${entry.id} appears twice in one commit`, entry.id);
    if (entry.size > limits.node) throw new ProtocolError("node_too_large", `a node holds at most ${limits.node} bytes`, entry.id);
    seen?.add(entry.id);
    nodes.push(entry as CommitNode);
  }
  giveParts(nodes, body, manifestLength);
  if (nodes.length === 0) throw new ProtocolError("bad_request", "a commit needs at least one node");
  return nodes;
}

const eventEntryCheck = compile(eventEntry);

/**
 * A commit event's nodes (PROTOCOL.md §6): the same checks and refusals as
 * readNodes, without its callbacks and intermediate arrays, since every event a
 * client reads takes this path.
 */
function readEventNodes(body: Buffer, manifestLength: number): EventNode[] {
  if (manifestLength > body.length) throw new ProtocolError("bad_request", "the manifest is longer than the body");
  const raw = readArray(body.subarray(0, manifestLength), "the manifest");
  const nodes: EventNode[] = new Array(raw.length);
  for (let index = 0; index < raw.length; index++) {
    let entry = eventEntryCheck ? eventEntryCheck(raw[index]) : UNSURE;
    if (entry === UNSURE) entry = parseWith(eventEntry, raw[index], `the manifest [${index}]`);
    nodes[index] = entry as EventNode;
  }
  giveParts(nodes, body, manifestLength);
  return nodes;
}

// ---- requests (server side) ---------------------------------------------------

export type Decoded<P extends RequestPort> = { ok: true; request: Request<P> } | { ok: false; error: WireFailure };

/** Each port's request schemas, with their compiled checks (checks.ts), by type. */
const REQUEST_SCHEMAS = new Map(
  Object.entries(REQUESTS).map(([port, schemas]) => [
    port as RequestPort,
    new Map(Object.entries(schemas).map(([type, schema]) => [type, { schema: schema as z.ZodType, check: compile(schema as z.ZodType) }])),
  ]),
);
const commitEntryCheck = compile(commitEntry);

/** A refusal of a request, with its type and ref when they could be read. */
function refusal<P extends RequestPort>(code: ErrorCode, text: string, type: string, ref: string | number | undefined, id?: string): Decoded<P> {
  return { ok: false, error: { code, message: text, type, ...(ref === undefined ? {} : { ref }), ...(id === undefined ? {} : { id }) } as WireFailure };
}

/** Decodes a whole message a client sent on `port`; `framed` is false for a frame with no newline. */
export function decodeRequest<P extends RequestPort>(port: P, message: Message, framed: boolean, limits: Limits): Decoded<P> {
  const { header, body } = message;
  const type = header["type"] as string;
  const known = REQUEST_SCHEMAS.get(port)!.get(type);
  if (!known) return refusal("unknown_type", `${type.slice(0, 32)} is not a request of the ${port} port`, type, refOf(header));
  if ((type === "hello" || type === "join") && (!framed || header["protocol"] !== PROTOCOL_VERSION))
    return refusal("protocol_mismatch", `this server speaks protocol ${PROTOCOL_VERSION}; send "protocol":${PROTOCOL_VERSION}`, type, refOf(header));
  if (!framed) return refusal("bad_request", "a message is its JSON header, a newline, then its body (PROTOCOL.md §2)", type, refOf(header));
  let request = (known.check ? known.check(header) : UNSURE) as Request<P> | typeof UNSURE;
  if (request === UNSURE) {
    const parsed = known.schema.safeParse(header);
    if (!parsed.success) return refusal("bad_request", describe(type, parsed.error), type, refOf(header));
    request = parsed.data as Request<P>;
  }
  try {
    switch (REQUEST_BODIES[type] ?? "none") {
      case "none":
        if (body.length > 0) return refusal("bad_request", `${type} takes no body`, type, refOf(header));
        break;
      case "ids?":
        if (body.length > 0) request.ids = readIds(body, limits);
        break;
      case "ids":
        request.ids = readIds(body, limits);
        break;
      case "nodes":
        request.nodes = readCommitNodes(body, header["manifest"] as number, limits);
        break;
    }
  } catch (error) {
    if (error instanceof ProtocolError) return refusal(error.code, error.message, type, refOf(header), error.id);
    throw error;
  }
  return { ok: true, request };
}

// ---- server messages (client side) ----------------------------------------------

/** Decodes a whole message the server sent, bodies included; throws a ProtocolError for anything else. */
export function decodeServerMessage(message: Message): ServerMessage {
  const { header, body } = message;
  const type = header["type"] as string;
  const schemas = SERVER_MESSAGES as Record<string, z.ZodType>;
  const schema = Object.prototype.hasOwnProperty.call(schemas, type) ? schemas[type] : undefined;
  if (!schema) throw new ProtocolError("unknown_type", `the server sent an unknown message type ${type.slice(0, 32)}`);
  const decoded = parseOr(schema, header, (error) => {
    throw new ProtocolError("bad_request", describe(`the server's ${type}`, error));
  }) as Header;
  switch (SERVER_BODIES[type as keyof typeof SERVER_BODIES]) {
    case "ids":
      decoded["ids"] = parseWith(nodeIds, readArray(body, "the id list"), "the id list");
      break;
    case "catalog":
      decoded["nodes"] = parseWith(catalogEntries, readArray(body, "the catalog"), "the catalog");
      break;
    case "nodes":
      decoded["nodes"] = readEventNodes(body, decoded["manifest"] as number);
      break;
    case "fetched":
      decoded["nodes"] = readNodes(
        body,
        decoded["manifest"] as number,
        (raw, i) => parseWith(fetchedEntry, raw, `the manifest [${i}]`),
        (entry) => ("parts" in entry ? entry.parts : []),
      ).map(({ entry, parts }): FetchedNode => ("removed" in entry ? entry : { ...entry, parts }));
      break;
  }
  return decoded as ServerMessage;
}
