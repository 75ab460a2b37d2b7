/** The session's nodes: each a base frame plus the deltas committed since. */

export const COMMON = "common";

export interface Node {
  id: string;
  owner: string;
  deps: string[];
  kind: string;
  frames: Buffer[];
  /** Total bytes of `frames`, kept so a catalog costs no summing. */
  size: number;
}

export class Nodes {
  private readonly map = new Map<string, Node>();

  get size(): number {
    return this.map.size;
  }

  get(id: string): Node | undefined {
    return this.map.get(id);
  }

  all(): IterableIterator<Node> {
    return this.map.values();
  }

  /** `full` replaces the node's frames; `delta` appends one. */
  commit(id: string, fields: { owner: string; deps: string[]; kind: string; mode: "full" | "delta" }, frame: Buffer): Node {
    const existing = this.map.get(id);
    const node: Node = existing ?? { id, owner: fields.owner, deps: fields.deps, kind: fields.kind, frames: [], size: 0 };
    if (fields.mode === "full") {
      node.frames = [frame];
      node.size = frame.length;
    } else {
      node.frames.push(frame);
      node.size += frame.length;
    }
    node.owner = fields.owner;
    node.deps = fields.deps;
    node.kind = fields.kind;
    this.map.set(id, node);
    return node;
  }

  setOwner(ids: readonly string[], owner: string): void {
    for (const id of ids) {
      const node = this.map.get(id);
      if (node) node.owner = owner;
    }
  }

  delete(ids: readonly string[]): void {
    for (const id of ids) this.map.delete(id);
  }

  ownedBy(owner: string): string[] {
    const ids: string[] = [];
    for (const node of this.map.values()) if (node.owner === owner) ids.push(node.id);
    return ids;
  }

  clear(): void {
    this.map.clear();
  }
}
