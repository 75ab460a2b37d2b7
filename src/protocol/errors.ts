/** The error codes of PROTOCOL.md §10, and the error that carries one. */

export const ERROR_CODES = [
  "bad_request",
  "unknown_type",
  "protocol_mismatch",
  "not_joined",
  "not_allowed",
  "denied",
  "not_found",
  "session_waiting",
  "rate_limited",
  "too_old",
  "incomplete",
  "header_too_large",
  "request_too_large",
  "commit_too_large",
  "batch_too_large",
  "node_too_large",
  "too_many_deltas",
  "too_many_deps",
  "too_many_ids",
  "presence_too_large",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The node at fault, when there is one (a commit's `rejected` names it). */
    readonly id?: string,
  ) {
    super(message);
  }
}
