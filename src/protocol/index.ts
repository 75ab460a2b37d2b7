export * from "./limits.js";
export * from "./ports.js";
export { ERROR_CODES, ProtocolError, type ErrorCode } from "./errors.js";
export * from "./messages.js";
export { Assembler, framesOf, messageBytes, parseFrame, refOf, toFrames, type Body, type BodyLimit, type Header, type Message, type WireFailure } from "./wire.js";
export { decodeRequest, decodeServerMessage, idsBody, nodesBody, nodesFrames, type Decoded } from "./codec.js";
export { makeJoinProof, verifyJoinProof, type Sodium } from "./join-proof.js";
