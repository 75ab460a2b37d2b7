/**
 * Every message of the protocol (PROTOCOL.md §3–§7), declared once as a zod
 * schema of its header, with its TypeScript type and what its body holds. The
 * server validates what clients send against these and types what it sends by
 * them; the client library and the tests read what the server sends with them.
 */
import { z } from "zod";
import { ROLES } from "../keys/entry.js";
import { MAX_NAME_LENGTH } from "../keys/names.js";
import { MAX_ID_LENGTH, MAX_KIND_LENGTH, MAX_REF_LENGTH } from "./limits.js";

const ref = z.union([z.number().finite(), z.string().max(MAX_REF_LENGTH)]);
export const nodeId = z.string().min(1).max(MAX_ID_LENGTH);
export const kind = z.string().max(MAX_KIND_LENGTH);
const z85Key = z.string().regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, "must be a 40-character Z85 key");
const base64 = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");
const userName = z.string().min(1).max(MAX_NAME_LENGTH);
export const role = z.enum(ROLES);
export const sessionState = z.enum(["waiting", "open", "closing"]);
export type SessionState = z.infer<typeof sessionState>;
const seq = z.number().int().min(0);
const count = z.number().int().min(0);

/** A message of `type` with an optional ref: every request, and every reply (which echoes it). Unknown extra fields are ignored, for forward compatibility. */
const withRef = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) => z.object({ type: z.literal(type), ref: ref.optional(), ...shape });
const force = z.boolean().optional();

// ---- what clients send -----------------------------------------------------

/** The requests of each port. Their bodies are declared in REQUEST_BODIES. */
export const REQUESTS = {
  command: {
    hello: withRef("hello", { protocol: z.number() }),
    join: withRef("join", { protocol: z.number(), key: z85Key, nonce: base64(64), proof: base64(512) }),
    leave: withRef("leave", {}),
    fetch: withRef("fetch", {}),
    catalog: withRef("catalog", {}),
    resync: withRef("resync", { since: seq }),
    lock: withRef("lock", { force }),
    unlock: withRef("unlock", { force }),
    give: withRef("give", { to: userName, force }),
    delete: withRef("delete", { force }),
    open: withRef("open", {}),
    kick: withRef("kick", { user: userName }),
    presence: withRef("presence", { data: z.record(z.string(), z.unknown()) }),
    users: withRef("users", {}),
  },
  publisher: {
    commit: withRef("commit", { manifest: count }),
  },
  ttl: {
    pong: withRef("pong", { n: count }),
  },
} as const;

export type RequestPort = keyof typeof REQUESTS;
type HeaderOf<P extends RequestPort> = z.infer<(typeof REQUESTS)[P][keyof (typeof REQUESTS)[P]]>;

/**
 * What a request's body holds: nothing, an id list (required, or optional where
 * no body means every node), or a manifest and its parts.
 */
export type BodyKind = "none" | "ids" | "ids?" | "nodes";
export const REQUEST_BODIES: Record<string, BodyKind> = {
  fetch: "ids?",
  lock: "ids",
  unlock: "ids",
  give: "ids",
  delete: "ids",
  commit: "nodes",
};

/** One node of a commit's manifest (PROTOCOL.md §5). */
export const commitEntry = z.object({
  id: nodeId,
  size: count,
  mode: z.enum(["full", "delta"]).optional(),
  kind: kind.optional(),
  deps: z.array(nodeId).optional(),
  owner: z.literal("common").optional(),
});
export type CommitEntry = z.infer<typeof commitEntry>;

/** A commit's node with its data, as the server checks it and a client builds it. */
export type CommitNode = CommitEntry & { data: Buffer };

/** A request as decoded: its header, with its body read into ids or nodes. */
export type Request<P extends RequestPort = RequestPort> = HeaderOf<P> & { ids?: string[]; nodes?: CommitNode[] };
export type CommandRequest = Request<"command">;

// ---- what the server sends -------------------------------------------------

export const userInfo = z.object({ name: z.string(), role, state: z.string(), latency: z.number().nullable() });
export type UserInfo = z.infer<typeof userInfo>;
const presenceData = z.record(z.string(), z.unknown());
export const presenceEntry = z.object({ data: presenceData, latency: z.number().nullable() });
export type PresenceEntry = z.infer<typeof presenceEntry>;
export const limits = z.object({
  frame: count,
  header: count,
  request: count,
  commit: count,
  node: count,
  batch: count,
  deps: count,
  ids: count,
  deltas: count,
  presence: count,
  presenceRate: count,
  ping: count,
  timeout: count,
});

/** A node in a `nodes` reply: its metadata and the lengths of its parts, or a removal. */
export const fetchedEntry = z.union([
  z.object({ id: z.string(), owner: z.string(), kind: z.string(), deps: z.array(z.string()), parts: z.array(count) }),
  z.object({ id: z.string(), removed: z.literal(true) }),
]);
export type FetchedEntry = z.infer<typeof fetchedEntry>;
/** A node in a `catalog` reply. */
export const catalogEntry = z.object({ id: z.string(), owner: z.string(), kind: z.string(), deps: z.array(z.string()), size: count, deltas: count });
export type CatalogEntry = z.infer<typeof catalogEntry>;
/** A node in a published commit: what the commit set, with the owner and kind resolved. */
export const eventEntry = z.object({ id: z.string(), kind: z.string(), mode: z.enum(["full", "delta"]), owner: z.string(), size: count, deps: z.array(z.string()).optional() });
export type EventEntry = z.infer<typeof eventEntry>;

// Sequenced events of the subscriber port (PROTOCOL.md §6); also replayed by resync.
export const commitEvent = z.object({ type: z.literal("commit"), seq, from: z.string(), ref: ref.optional(), manifest: count });
export const rightsEvent = z.object({ type: z.literal("rights"), seq, from: z.string(), owner: z.string() });
export const deleteEvent = z.object({ type: z.literal("delete"), seq, from: z.string() });
export const sessionEvent = z.object({ type: z.literal("session"), seq, state: sessionState });
export const usersEvent = z.object({ type: z.literal("users"), seq, users: z.array(userInfo) });
export const presenceEvent = z.object({ type: z.literal("presence"), from: z.string(), data: presenceData, latency: z.number().nullable() });

export const SERVER_MESSAGES = {
  hello: withRef("hello", { server: z.string(), version: z.string(), protocol: z.number(), session: z.string(), state: sessionState, users: count, limits }),
  welcome: withRef("welcome", {
    protocol: z.number(),
    user: z.string(),
    role,
    state: sessionState,
    seq,
    users: z.array(userInfo),
    presence: z.record(z.string(), presenceEntry),
    limits,
  }),
  ok: withRef("ok", { seq }),
  error: withRef("error", { code: z.string(), message: z.string(), id: z.string().optional() }),
  nodes: withRef("nodes", { seq, manifest: count, state: sessionState, users: z.array(userInfo) }),
  catalog: withRef("catalog", { seq }),
  resynced: withRef("resynced", { seq, presence: z.record(z.string(), presenceEntry) }),
  users: withRef("users", { users: z.array(userInfo), seq: seq.optional() }),
  kicked: z.object({ type: z.literal("kicked"), by: z.string() }),
  rejected: withRef("rejected", { code: z.string(), message: z.string(), id: z.string().optional() }),
  ping: z.object({ type: z.literal("ping"), n: count, seq }),
  commit: commitEvent,
  rights: rightsEvent,
  delete: deleteEvent,
  session: sessionEvent,
  presence: presenceEvent,
} as const;

type ServerHeaders = { [K in keyof typeof SERVER_MESSAGES]: z.infer<(typeof SERVER_MESSAGES)[K]> };
/** A header the server sends; `users` covers both the reply and the event. */
export type ServerHeader = ServerHeaders[keyof ServerHeaders];
export type ServerHeaderOf<T extends keyof ServerHeaders> = ServerHeaders[T];

/** What a server message's body holds. */
export const SERVER_BODIES: Partial<Record<keyof typeof SERVER_MESSAGES, "ids" | "nodes" | "fetched" | "catalog">> = {
  commit: "nodes",
  rights: "ids",
  delete: "ids",
  nodes: "fetched",
  catalog: "catalog",
};

// ---- messages as a client reads them, bodies decoded -------------------------

export type EventNode = EventEntry & { data: Buffer };
export type FetchedNode = { id: string; owner: string; kind: string; deps: string[]; parts: Buffer[] } | { id: string; removed: true };

export type CommitEvent = ServerHeaderOf<"commit"> & { nodes: EventNode[] };
export type RightsEvent = ServerHeaderOf<"rights"> & { ids: string[] };
export type DeleteEvent = ServerHeaderOf<"delete"> & { ids: string[] };
export type SessionEvent = ServerHeaderOf<"session">;
export type UsersEvent = ServerHeaderOf<"users"> & { seq: number };
export type PresenceEvent = ServerHeaderOf<"presence">;
/** The sequenced events of the subscriber port, bodies decoded. */
export type ServerEvent = CommitEvent | RightsEvent | DeleteEvent | SessionEvent | UsersEvent;

export type NodesReply = ServerHeaderOf<"nodes"> & { nodes: FetchedNode[] };
export type CatalogReply = ServerHeaderOf<"catalog"> & { nodes: CatalogEntry[] };

/** Any message the server sends, as the client library reads it. */
export type ServerMessage =
  | Exclude<ServerHeader, { type: "commit" | "rights" | "delete" | "nodes" | "catalog" }>
  | CommitEvent
  | RightsEvent
  | DeleteEvent
  | NodesReply
  | CatalogReply;
