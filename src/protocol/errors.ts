/** The error codes of PROTOCOL.md §2, and the error that carries one. */

export const ERROR_CODES = [
  "bad_request",
  "not_joined",
  "unknown_type",
  "protocol_mismatch",
  "not_allowed",
  "denied",
  "not_found",
  "too_large",
  "too_old",
  "rate_limited",
  "session_waiting",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
