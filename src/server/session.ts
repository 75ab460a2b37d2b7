/**
 * The session's state and its rules, with no sockets in sight. Every change is
 * first planned (checked against the rules: throws a ProtocolError when refused),
 * then sequenced and applied. `apply` is the only code that changes the state, so
 * a live change and a journal replay take the same path.
 */
import { MAX_DELTAS, ProtocolError, type SessionState } from "../protocol/index.js";
import type { Role } from "../keys/index.js";
import { COMMON, Nodes } from "./nodes.js";
import type { UserInfo } from "./users.js";

export interface Actor {
  name: string;
  role: Role;
}

/** A change as planned, before it has a seq. Commits carry their one frame beside the header. */
export type Change =
  | { type: "commit"; from: string; id: string; kind: string; deps: string[]; mode: "full" | "delta"; owner: string }
  | { type: "rights"; from: string; ids: string[]; owner: string }
  | { type: "delete"; from: string; ids: string[] }
  | { type: "session"; state: SessionState }
  | { type: "users"; users: UserInfo[] };

export type SequencedChange = Change & { seq: number };

export interface CommitRequest {
  id: string;
  kind: string;
  deps: string[];
  mode: "full" | "delta";
  owner?: "common" | undefined;
}

export class Session {
  readonly nodes = new Nodes();
  state: Exclude<SessionState, "closing">;
  seq = 0;

  constructor(initialState: Exclude<SessionState, "closing"> = "waiting") {
    this.state = initialState;
  }

  planCommit(actor: Actor, request: CommitRequest): Change {
    if (this.state === "waiting" && actor.role !== "admin")
      throw new ProtocolError("session_waiting", "the session is not open yet; an admin opens it");
    const node = this.nodes.get(request.id);
    if (node && node.owner !== actor.name && node.owner !== COMMON)
      throw new ProtocolError("denied", `node ${request.id} belongs to ${node.owner}`);
    if (request.mode === "delta") {
      if (!node) throw new ProtocolError("not_found", `node ${request.id} does not exist; commit it in full first`);
      if (node.frames.length > MAX_DELTAS)
        throw new ProtocolError("too_large", `node ${request.id} has ${MAX_DELTAS} deltas; commit it in full`);
    }
    const owner = node ? node.owner : request.owner === COMMON ? COMMON : actor.name;
    return { type: "commit", from: actor.name, id: request.id, kind: request.kind, deps: request.deps, mode: request.mode, owner };
  }

  /** Takes nodes that are common or already the actor's; all or nothing. */
  planLock(actor: Actor, ids: string[], force: boolean): Change {
    this.checkRights(actor, ids, force);
    return { type: "rights", from: actor.name, ids: unique(ids), owner: actor.name };
  }

  /** Gives back nodes that are the actor's (any node's, for an admin with force). */
  planUnlock(actor: Actor, ids: string[], force: boolean): Change {
    this.checkRights(actor, ids, force);
    return { type: "rights", from: actor.name, ids: unique(ids), owner: COMMON };
  }

  planDelete(actor: Actor, ids: string[], force: boolean): Change {
    this.checkRights(actor, ids, force);
    return { type: "delete", from: actor.name, ids: unique(ids) };
  }

  /** Null when the session is open already: nothing changes. */
  planOpen(actor: Actor): Change | null {
    if (actor.role !== "admin") throw new ProtocolError("denied", "only an admin can open the session");
    return this.state === "open" ? null : { type: "session", state: "open" };
  }

  /** The nodes a departing user held, handed back to everyone; null when there are none. */
  planRelease(name: string): Change | null {
    const ids = this.nodes.ownedBy(name);
    return ids.length === 0 ? null : { type: "rights", from: name, ids, owner: COMMON };
  }

  /** Applies a sequenced change; `frames` are the commit's payload. */
  apply(change: SequencedChange, frames: readonly Buffer[]): void {
    this.seq = change.seq;
    switch (change.type) {
      case "commit":
        this.nodes.commit(change.id, change, frames[0] ?? Buffer.alloc(0));
        break;
      case "rights":
        this.nodes.setOwner(change.ids, change.owner);
        break;
      case "delete":
        this.nodes.delete(change.ids);
        break;
      case "session":
        if (change.state !== "closing") this.state = change.state;
        break;
      case "users":
        break;
    }
  }

  private requireNode(id: string) {
    const node = this.nodes.get(id);
    if (!node) throw new ProtocolError("not_found", `node ${id} does not exist`);
    return node;
  }

  /** Every node must exist and be the actor's or common, unless an admin forces; all or nothing. */
  private checkRights(actor: Actor, ids: string[], force: boolean): void {
    if (force && actor.role !== "admin") throw new ProtocolError("denied", "only an admin can force");
    for (const id of ids) {
      const node = this.requireNode(id);
      if (!force && node.owner !== COMMON && node.owner !== actor.name)
        throw new ProtocolError("denied", `node ${id} belongs to ${node.owner}`);
    }
  }
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
