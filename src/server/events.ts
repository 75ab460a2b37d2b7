/**
 * A sequenced change as it goes out on the subscriber port and into resync
 * (PROTOCOL.md §6): its header, typed by the protocol's schemas, and its body.
 */
import { idsBody, nodesBody, toFrames, type Body, type ServerHeader } from "../protocol/index.js";
import type { SequencedChange } from "./session.js";

export function eventMessage(change: SequencedChange, parts: readonly Buffer[]): { header: ServerHeader; body: Body } {
  switch (change.type) {
    case "commit": {
      const { manifest, body } = nodesBody(change.nodes, parts);
      const header: ServerHeader = { type: "commit", seq: change.seq, from: change.from, manifest };
      if (change.ref !== undefined) header.ref = change.ref;
      return { header, body };
    }
    case "rights":
      return { header: { type: "rights", seq: change.seq, from: change.from, owner: change.owner }, body: idsBody(change.ids) };
    case "delete":
      return { header: { type: "delete", seq: change.seq, from: change.from }, body: idsBody(change.ids) };
    case "session":
      return { header: { type: "session", seq: change.seq, state: change.state }, body: [] };
    case "users":
      return { header: { type: "users", seq: change.seq, users: change.users }, body: [] };
  }
}

/** The frames an event is published in; the same at publication and when replayed from the journal. */
export function eventFrames(change: SequencedChange, parts: readonly Buffer[], frameBytes: number): Buffer[] {
  const { header, body } = eventMessage(change, parts);
  return toFrames(header, body, frameBytes);
}
