/** The protocol's numbers (PROTOCOL.md), named once. */

export const PROTOCOL_VERSION = 1;
/** The largest header frame a client may send. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** The server cuts long replies into messages of about this size. */
export const REPLY_BATCH_BYTES = 1024 * 1024;
export const MAX_ID_LENGTH = 128;
/** Deltas a node may accumulate before the client must commit it in full. */
export const MAX_DELTAS = 256;
export const MAX_METADATA_BYTES = 8 * 1024;
/** Deeper headers are refused: re-serialising them could exhaust the stack. */
export const MAX_JSON_DEPTH = 32;
export const MAX_REF_LENGTH = 128;
export const MAX_KIND_LENGTH = 64;
export const MAX_DEPS = 1024;
export const MAX_NAME_LENGTH = 64;
export const ROUTING_ID_BYTES = 16;
export const JOIN_PROOF_CONTEXT = "curvehost/join";
export const NONCE_BYTES = 24;
