/**
 * The session's state and its rules, with no sockets in sight. Every change is
 * first planned (checked against the rules: throws a ProtocolError when refused),
 * then sequenced and applied. `apply` is the only code that changes the state, so
 * a live change and a journal replay take the same path.
 */
import { ProtocolError, type CommitNode, type EventEntry, type Limits, type SessionState, type UserInfo } from "../protocol/index.js";
import type { Role } from "../keys/index.js";
import { COMMON, Nodes, type Node } from "./nodes.js";

export interface Actor {
  name: string;
  role: Role;
}

/** A change as planned, before it has a seq. A commit's parts travel beside it, one per node. */
export type Change =
  | { type: "commit"; from: string; ref?: string | number; nodes: EventEntry[] }
  | { type: "rights"; from: string; ids: string[]; owner: string }
  | { type: "delete"; from: string; ids: string[] }
  | { type: "session"; state: SessionState }
  | { type: "users"; users: UserInfo[] };

export type SequencedChange = Change & { seq: number };

export class Session {
  readonly nodes = new Nodes();
  state: Exclude<SessionState, "closing">;
  seq = 0;

  constructor(
    initialState: Exclude<SessionState, "closing">,
    private readonly limits: Pick<Limits, "deltas" | "node">,
  ) {
    this.state = initialState;
  }

  /** A commit of several nodes, all or nothing (PROTOCOL.md §5). */
  planCommit(actor: Actor, nodes: readonly CommitNode[], ref: string | number | undefined): { change: Change; parts: Buffer[] } {
    if (this.state === "waiting" && actor.role !== "admin")
      throw new ProtocolError("session_waiting", "the session is not open yet; an admin opens it");
    const entries = nodes.map((entry): EventEntry => {
      const node = this.nodes.get(entry.id);
      if (node) this.checkOwner(actor, node);
      const mode = entry.mode ?? "full";
      const size = entry.data.length;
      if (mode === "delta") {
        if (!node) throw new ProtocolError("not_found", `node ${entry.id} does not exist; commit it in full first`, entry.id);
        if (node.parts.length > this.limits.deltas)
          throw new ProtocolError("too_many_deltas", `node ${entry.id} has ${this.limits.deltas} deltas; commit it in full`, entry.id);
        if (node.size + size > this.limits.node)
          throw new ProtocolError("node_too_large", `node ${entry.id} would hold more than ${this.limits.node} bytes; commit it in full`, entry.id);
      }
      const owner = node ? node.owner : entry.owner === COMMON ? COMMON : actor.name;
      const kind = entry.kind ?? node?.kind ?? "";
      const deps = entry.deps ?? (node ? undefined : []);
      return deps === undefined ? { id: entry.id, kind, mode, owner, size } : { id: entry.id, kind, mode, owner, size, deps };
    });
    const change: Change = ref === undefined ? { type: "commit", from: actor.name, nodes: entries } : { type: "commit", from: actor.name, ref, nodes: entries };
    return { change, parts: nodes.map((node) => node.data) };
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

  /** Hands nodes that are the actor's or common to another user (`to` is joined: the caller checks). */
  planGive(actor: Actor, ids: string[], to: string, force: boolean): Change {
    this.checkRights(actor, ids, force);
    return { type: "rights", from: actor.name, ids: unique(ids), owner: to };
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

  /** Applies a sequenced change; `parts` are a commit's, one per node. */
  apply(change: SequencedChange, parts: readonly Buffer[]): void {
    this.seq = change.seq;
    switch (change.type) {
      case "commit":
        change.nodes.forEach((entry, i) => this.nodes.commit(entry.id, entry, parts[i] ?? Buffer.alloc(0)));
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

  private checkOwner(actor: Actor, node: Node): void {
    if (node.owner !== COMMON && node.owner !== actor.name) throw new ProtocolError("denied", `node ${node.id} belongs to ${node.owner}`, node.id);
  }

  /** Every node must exist and be the actor's or common, unless an admin forces; all or nothing. */
  private checkRights(actor: Actor, ids: string[], force: boolean): void {
    if (force && actor.role !== "admin") throw new ProtocolError("denied", "only an admin can force");
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (!node) throw new ProtocolError("not_found", `node ${id} does not exist`, id);
      if (!force) this.checkOwner(actor, node);
    }
  }
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
