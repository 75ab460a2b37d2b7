/**
 * The publisher port: commits from joined users. A routing id no join has bound
 * gets nothing back at all; a refused commit gets `rejected`; an accepted one is
 * published, and the committer's own copy coming back is its acknowledgement.
 */
import { ProtocolError, decodeRequest, encode } from "../protocol/index.js";
import type { ServerContext } from "./context.js";

export function handleCommit(context: ServerContext, routingId: Buffer, frames: Buffer[]): void {
  const user = context.users.byRoutingId(routingId);
  if (!user) {
    context.log.warn({ event: "unbound_routing_id", port: "publisher" }, "message from a routing id no join has bound; dropped");
    return;
  }
  const decoded = decodeRequest("publisher", frames);
  if (!decoded.ok) {
    context.outboxes.publisher.send(routingId, encode({ type: "rejected", ...withRef(decoded.error.ref), id: null, code: decoded.error.code, message: decoded.error.message }));
    return;
  }
  const request = decoded.request;
  try {
    const change = context.session.planCommit(user, request);
    context.broadcaster.publish(change, decoded.payload);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    context.outboxes.publisher.send(
      routingId,
      encode({ type: "rejected", ...withRef(request.ref), id: request.id, code: error.code, message: error.message }),
    );
  }
}

export function withRef(ref: string | number | undefined): { ref?: string | number } {
  return ref === undefined ? {} : { ref };
}
