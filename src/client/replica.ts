/**
 * The client's copy of the session: nodes with their frames, users and state,
 * kept in step with the server by applying published events in seq order.
 */
import type { ServerEvent, UserInfo } from "../protocol/index.js";

export interface ReplicaNode {
  id: string;
  owner: string;
  deps: string[];
  kind: string;
  /** The base frame, then the deltas committed since, in order. */
  frames: Buffer[];
}

export class Replica {
  readonly nodes = new Map<string, ReplicaNode>();
  users: UserInfo[] = [];
  state = "waiting";
  /** The seq of the last event applied; the replica is exact as of this seq. */
  seq = 0;

  /** Applies one sequenced event; returns false for one already applied. */
  apply(event: ServerEvent, frames: Buffer[]): boolean {
    if (!("seq" in event) || typeof event.seq !== "number" || event.seq <= this.seq) return false;
    this.seq = event.seq;
    switch (event.type) {
      case "commit": {
        const frame = frames[0] ?? Buffer.alloc(0);
        const node = this.nodes.get(event.id);
        if (node && event.mode === "delta") node.frames.push(frame);
        this.nodes.set(event.id, {
          id: event.id,
          owner: event.owner,
          deps: event.deps,
          kind: event.kind,
          frames: node && event.mode === "delta" ? node.frames : [frame],
        });
        break;
      }
      case "rights":
        for (const id of event.ids) {
          const node = this.nodes.get(id);
          if (node) node.owner = event.owner;
        }
        break;
      case "delete":
        for (const id of event.ids) this.nodes.delete(id);
        break;
      case "session":
        this.state = event.state;
        break;
      case "users":
        this.users = event.users;
        break;
    }
    return true;
  }
}
