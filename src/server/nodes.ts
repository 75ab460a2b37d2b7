/** The session's nodes: each a base part plus the delta parts committed since. */

export const COMMON = "common";

export interface Node {
  id: string;
  owner: string;
  kind: string;
  deps: string[];
  /** The base part, then each delta, in order. */
  parts: Buffer[];
  /** Total bytes of `parts`, kept so that limits and catalogs cost no summing. */
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

  /** `full` replaces the node's parts with `part`; `delta` appends it. Deps left out stay as they were. */
  commit(id: string, fields: { owner: string; kind: string; deps?: string[] | undefined; mode: "full" | "delta" }, part: Buffer): void {
    const node = this.map.get(id) ?? { id, owner: fields.owner, kind: fields.kind, deps: [], parts: [], size: 0 };
    if (fields.mode === "full") {
      node.parts = [part];
      node.size = part.length;
    } else {
      node.parts.push(part);
      node.size += part.length;
    }
    node.owner = fields.owner;
    node.kind = fields.kind;
    if (fields.deps) node.deps = fields.deps;
    this.map.set(id, node);
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
