export * from "./limits.js";
export { ERROR_CODES, ProtocolError, type ErrorCode } from "./errors.js";
export * from "./messages.js";
export { decodeMessage, decodeRequest, encode, type Decoded, type DecodeFailure } from "./codec.js";
export { makeJoinProof, verifyJoinProof, type Sodium } from "./join-proof.js";
