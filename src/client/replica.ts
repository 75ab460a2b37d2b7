/**
 * The client's copy of the session: nodes with their parts, users, presence and
 * state, kept in step with the server by applying published events in seq order.
 */
import type { PresenceEntry, ServerEvent, UserInfo } from "../protocol/index.js";

export interface ReplicaNode {
  id: string;
  owner: string;
  kind: string;
  deps: string[];
  /** The base part, then the deltas committed since, in order. */
  parts: Buffer[];
}

export class Replica {
  readonly nodes = new Map<string, ReplicaNode>();
  users: UserInfo[] = [];
  /** Each joined user's latest presence, by name. */
  presence: Record<string, PresenceEntry> = {};
  state = "waiting";
  /** The seq of the last event applied; the replica is exact as of this seq. */
  seq = 0;

  /** Applies one sequenced event; returns false for one already applied. */
  apply(event: ServerEvent): boolean {
    if (event.seq <= this.seq) return false;
    this.seq = event.seq;
    switch (event.type) {
      case "commit":
        for (const entry of event.nodes) {
          const node = this.nodes.get(entry.id);
          if (!node) {
            this.nodes.set(entry.id, { id: entry.id, owner: entry.owner, kind: entry.kind, deps: entry.deps ?? [], parts: [entry.data] });
            continue;
          }
          // Changed in place: a node edited again and again (a drag) makes no new object per event.
          if (entry.mode === "delta") node.parts.push(entry.data);
          else node.parts = [entry.data];
          node.owner = entry.owner;
          node.kind = entry.kind;
          if (entry.deps) node.deps = entry.deps;
        }
        break;
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
        for (const name of Object.keys(this.presence)) if (!event.users.some((user) => user.name === name)) delete this.presence[name];
        break;
    }
    return true;
  }
}
