/** The protocol's numbers (PROTOCOL.md §9), named once. */

export const PROTOCOL_VERSION = 2;

/** What `hello` and `welcome` advertise: the bounds a client sizes what it sends by. */
export interface Limits {
  /** Bytes of one frame, pieces included, either way. */
  frame: number;
  /** Bytes of the JSON header of a message a client sends. */
  header: number;
  /** Bytes of the body of one command-port request, all its pieces together. */
  request: number;
  /** Bytes of the body of one commit (manifest and parts), all its pieces together. */
  commit: number;
  /** Bytes of one node's data, base and deltas together. */
  node: number;
  /** Nodes in one commit. */
  batch: number;
  /** Deps of one node. */
  deps: number;
  /** Ids in one id list. */
  ids: number;
  /** Deltas on one node before a full is needed. */
  deltas: number;
  /** Bytes of one presence's data, as JSON. */
  presence: number;
  /** Presence updates one user may send a second. */
  presenceRate: number;
}

/** What `hello` and `welcome` carry: the limits, and the ttl port's timing (PROTOCOL.md §7), in ms. */
export interface Advertised extends Limits {
  /** Between two pings. */
  ping: number;
  /** Silence after which the server takes a user as lost, and a client the server. */
  timeout: number;
}

const REQUEST_BYTES = 4 * 1024 * 1024;
const NODE_BYTES = 512 * 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<Limits> = {
  frame: 256 * 1024,
  header: 64 * 1024,
  request: REQUEST_BYTES,
  // A commit's body is its manifest (at most a request's size) and its parts: one node of the largest size fits.
  commit: NODE_BYTES + REQUEST_BYTES,
  node: NODE_BYTES,
  batch: 4096,
  deps: 16384,
  ids: 65536,
  deltas: 256,
  presence: 8 * 1024,
  presenceRate: 30,
};

/** The limits of a server whose nodes may hold `nodeBytes` (`--max-node-size`). */
export function limitsFor(nodeBytes: number): Limits {
  return { ...DEFAULT_LIMITS, node: nodeBytes, commit: nodeBytes + DEFAULT_LIMITS.request };
}

/** `limits.frame` is never above this, so a client may bound its sockets before it knows the server's. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** A frame under CURVE is its plaintext plus the MESSAGE command's name, nonce, box MAC and flags (33 bytes). */
export const CURVE_FRAME_OVERHEAD = 64;

export const MAX_ID_LENGTH = 128;
export const MAX_KIND_LENGTH = 64;
export const MAX_REF_LENGTH = 128;
export const MAX_NAME_LENGTH = 64;
/** Deeper JSON is refused before it is parsed: re-serialising it could exhaust the stack. */
export const MAX_JSON_DEPTH = 32;
export const ROUTING_ID_BYTES = 16;
export const JOIN_PROOF_CONTEXT = "curvehost/join";
export const NONCE_BYTES = 24;
