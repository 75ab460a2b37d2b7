/**
 * Every message of the protocol, declared once as a zod schema with its
 * TypeScript type. The server validates what clients send against these; the
 * client library and the tests read what the server sends with them.
 */
import { z } from "zod";
import { MAX_DEPS, MAX_ID_LENGTH, MAX_KIND_LENGTH, MAX_NAME_LENGTH, MAX_REF_LENGTH, PROTOCOL_VERSION } from "./limits.js";

const ref = z.union([z.number().finite(), z.string().max(MAX_REF_LENGTH)]);
export const nodeId = z.string().min(1).max(MAX_ID_LENGTH);
const ids = z.array(nodeId).min(1);
const z85Key = z.string().regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, "must be a 40-character Z85 key");
const base64 = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");
const userName = z.string().min(1).max(MAX_NAME_LENGTH);
const role = z.enum(["admin", "member"]);
export const sessionState = z.enum(["waiting", "open", "closing"]);
export type SessionState = z.infer<typeof sessionState>;

/** Fields every request may carry; unknown extra fields are ignored, for forward compatibility. */
const request = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), ref: ref.optional(), ...shape });

// Command port (PROTOCOL.md §3, §4, §5).
export const helloRequest = request("hello", {});
export const joinRequest = request("join", {
  protocol: z.number().int(),
  key: z85Key,
  nonce: base64(64),
  proof: base64(512),
});
export const leaveRequest = request("leave", {});
export const catalogRequest = request("catalog", {});
export const fetchRequest = request("fetch", { ids });
export const resyncRequest = request("resync", { since: z.number().int().min(0) });
export const lockRequest = request("lock", { ids, force: z.boolean().optional() });
export const unlockRequest = request("unlock", { ids, force: z.boolean().optional() });
export const deleteRequest = request("delete", { ids, force: z.boolean().optional() });
export const openRequest = request("open", {});
export const kickRequest = request("kick", { user: userName });
export const metadataRequest = request("metadata", { data: z.record(z.string(), z.unknown()) });
export const usersRequest = request("users", {});

// Publisher port.
export const commitRequest = request("commit", {
  id: nodeId,
  kind: z.string().max(MAX_KIND_LENGTH),
  deps: z.array(nodeId).max(MAX_DEPS),
  mode: z.enum(["full", "delta"]),
  owner: z.literal("common").optional(),
});

// Ttl port.
export const pongRequest = request("pong", { n: z.number().int().min(0) });

/** Which request types each port accepts, and how many payload frames each takes. */
export const REQUESTS = {
  command: {
    hello: helloRequest,
    join: joinRequest,
    leave: leaveRequest,
    catalog: catalogRequest,
    fetch: fetchRequest,
    resync: resyncRequest,
    lock: lockRequest,
    unlock: unlockRequest,
    delete: deleteRequest,
    open: openRequest,
    kick: kickRequest,
    metadata: metadataRequest,
    users: usersRequest,
  },
  publisher: { commit: commitRequest },
  ttl: { pong: pongRequest },
} as const;

export type RequestPort = keyof typeof REQUESTS;
export type RequestOn<P extends RequestPort> = z.infer<(typeof REQUESTS)[P][keyof (typeof REQUESTS)[P]]>;
export type CommandRequest = RequestOn<"command">;
export type CommitRequestMessage = z.infer<typeof commitRequest>;
export type PongRequest = z.infer<typeof pongRequest>;

/** Payload frames a request carries: a commit exactly one, everything else none. */
export const PAYLOAD_FRAMES: Record<string, number> = { commit: 1 };

// What the server sends.
export const userInfo = z.object({ name: z.string(), role, state: z.string(), latency: z.number().nullable() });
export type UserInfo = z.infer<typeof userInfo>;

const catalogEntry = z.object({ id: z.string(), owner: z.string(), deps: z.array(z.string()), kind: z.string(), size: z.number(), deltas: z.number() });
const fetchedNode = z.object({ id: z.string(), owner: z.string(), deps: z.array(z.string()), kind: z.string(), frames: z.number().int().min(0), removed: z.literal(true).optional() });

export const commitEvent = z.object({ type: z.literal("commit"), seq: z.number(), from: z.string(), id: z.string(), kind: z.string(), deps: z.array(z.string()), mode: z.enum(["full", "delta"]), owner: z.string() });
export const rightsEvent = z.object({ type: z.literal("rights"), seq: z.number(), from: z.string(), ids: z.array(z.string()), owner: z.string() });
export const deleteEvent = z.object({ type: z.literal("delete"), seq: z.number(), from: z.string(), ids: z.array(z.string()) });
export const sessionEvent = z.object({ type: z.literal("session"), seq: z.number(), state: sessionState });
export const usersEvent = z.object({ type: z.literal("users"), seq: z.number(), users: z.array(userInfo) });
export const presenceEvent = z.object({ type: z.literal("presence"), from: z.string(), data: z.record(z.string(), z.unknown()), latency: z.number().nullable() });

/** The sequenced events of the subscriber port (PROTOCOL.md §6); presence is apart, having no seq. */
export const serverEvent = z.discriminatedUnion("type", [commitEvent, rightsEvent, deleteEvent, sessionEvent, usersEvent]);
export type ServerEvent = z.infer<typeof serverEvent>;

export const serverMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("hello"), ref: ref.optional(), server: z.string(), version: z.string(), protocol: z.number(), session: z.string(), state: sessionState, users: z.number() }),
  z.object({ type: z.literal("welcome"), ref: ref.optional(), user: z.string(), role, state: sessionState, seq: z.number(), users: z.array(userInfo) }),
  z.object({ type: z.literal("ok"), ref: ref.optional(), seq: z.number() }),
  z.object({ type: z.literal("error"), ref: ref.optional(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal("catalog"), ref: ref.optional(), seq: z.number(), last: z.boolean(), nodes: z.array(catalogEntry) }),
  z.object({ type: z.literal("nodes"), ref: ref.optional(), last: z.boolean(), nodes: z.array(fetchedNode) }),
  z.object({ type: z.literal("resynced"), ref: ref.optional(), seq: z.number() }),
  z.object({ type: z.literal("users"), ref: ref.optional(), users: z.array(userInfo), seq: z.number().optional() }),
  z.object({ type: z.literal("kicked"), by: z.string() }),
  z.object({ type: z.literal("rejected"), ref: ref.optional(), id: z.string().nullable(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal("ping"), n: z.number() }),
  commitEvent,
  rightsEvent,
  deleteEvent,
  sessionEvent,
  presenceEvent,
]);
export type ServerMessage = z.infer<typeof serverMessage>;

export { PROTOCOL_VERSION };
