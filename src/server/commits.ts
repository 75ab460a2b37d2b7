/**
 * The publisher port: commits from joined users (a routing id no join has bound
 * gets nothing back at all: the server's receive loop drops its messages); a
 * refused commit gets `rejected`; an accepted one is published, and the
 * committer's own copy coming back is its acknowledgement.
 */
import { ProtocolError, messageBytes, toFrames, type Decoded, type ServerHeader, type WireFailure } from "../protocol/index.js";
import type { ServerContext } from "./context.js";
import type { User } from "./users.js";

export function handleCommit(context: ServerContext, routingId: Buffer, user: User, decoded: Decoded<"publisher"> | { ok: false; error: WireFailure }): void {
  const reject = (failure: { ref?: string | number | undefined; code: string; message: string; id?: string | undefined }) => {
    const header: ServerHeader = { type: "rejected", code: failure.code, message: failure.message };
    if (failure.ref !== undefined) header.ref = failure.ref;
    if (failure.id !== undefined) header.id = failure.id;
    context.outboxes.publisher.send(routingId, toFrames(header, [], context.config.limits.frame), messageBytes(header));
  };
  if (!decoded.ok) return reject(decoded.error);
  const request = decoded.request;
  // Sent again after a cut of the publisher port (PROTOCOL.md §5): applied once already.
  if (request.ref !== undefined && user.seen.publisher.has(request.ref)) return;
  try {
    const { change, parts } = context.session.planCommit(user, request.nodes ?? [], request.ref);
    context.broadcaster.publish(change, parts);
    if (request.ref !== undefined) user.seen.publisher.add(request.ref);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    reject({ ref: request.ref, code: error.code, message: error.message, id: error.id });
  }
}
