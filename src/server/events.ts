/**
 * A sequenced change as it goes out on the subscriber port and into resync
 * (PROTOCOL.md §6): its header, typed by the protocol's schemas, and its body,
 * in frames.
 */
import { idsBody, nodesFrames, toFrames, type ServerHeader } from "../protocol/index.js";
import type { SequencedChange } from "./session.js";

/** The frames an event is published in; the same at publication and when replayed from the journal. */
export function eventFrames(change: SequencedChange, parts: readonly Buffer[], frameBytes: number): Buffer[] {
  switch (change.type) {
    case "commit": {
      const header: ServerHeader = { type: "commit", seq: change.seq, from: change.from, manifest: 0 }; // manifest: set by nodesFrames
      if (change.ref !== undefined) header.ref = change.ref;
      return nodesFrames(header, change.nodes, parts, frameBytes);
    }
    case "rights":
      return toFrames({ type: "rights", seq: change.seq, from: change.from, owner: change.owner } satisfies ServerHeader, idsBody(change.ids), frameBytes);
    case "delete":
      return toFrames({ type: "delete", seq: change.seq, from: change.from } satisfies ServerHeader, idsBody(change.ids), frameBytes);
    case "session":
      return toFrames({ type: "session", seq: change.seq, state: change.state } satisfies ServerHeader, [], frameBytes);
    case "users":
      return toFrames({ type: "users", seq: change.seq, users: change.users } satisfies ServerHeader, [], frameBytes);
  }
}
