/**
 * Long answers cut into messages of about REPLY_BATCH_BYTES, the last marked
 * `last: true`, so a join moves a large session in few round trips without any
 * one message growing without bound.
 */
import { REPLY_BATCH_BYTES } from "../protocol/index.js";
import type { Node } from "./nodes.js";

export interface CatalogEntry {
  id: string;
  owner: string;
  deps: string[];
  kind: string;
  size: number;
  deltas: number;
}

/** Catalog entries in groups whose JSON stays near the batch size. */
export function catalogBatches(nodes: Iterable<Node>): CatalogEntry[][] {
  const batches: CatalogEntry[][] = [[]];
  let bytes = 0;
  for (const node of nodes) {
    const entry = { id: node.id, owner: node.owner, deps: node.deps, kind: node.kind, size: node.size, deltas: node.frames.length - 1 };
    const entryBytes = 64 + node.id.length + node.owner.length + node.kind.length + node.deps.reduce((n, d) => n + d.length + 3, 0);
    if (bytes + entryBytes > REPLY_BATCH_BYTES && batches.at(-1)!.length > 0) {
      batches.push([]);
      bytes = 0;
    }
    batches.at(-1)!.push(entry);
    bytes += entryBytes;
  }
  return batches;
}

export interface FetchedNode {
  header: { id: string; owner: string; deps: string[]; kind: string; frames: number; removed?: true };
  frames: Buffer[];
}

/** Requested nodes grouped so each message's payload stays near the batch size (a bigger node goes alone). */
export function fetchBatches(ids: readonly string[], lookup: (id: string) => Node | undefined): FetchedNode[][] {
  const batches: FetchedNode[][] = [[]];
  let bytes = 0;
  for (const id of ids) {
    const node = lookup(id);
    const fetched: FetchedNode = node
      ? { header: { id, owner: node.owner, deps: node.deps, kind: node.kind, frames: node.frames.length }, frames: node.frames }
      : { header: { id, owner: "", deps: [], kind: "", frames: 0, removed: true }, frames: [] };
    const size = (node?.size ?? 0) + 64 + id.length;
    if (bytes + size > REPLY_BATCH_BYTES && batches.at(-1)!.length > 0) {
      batches.push([]);
      bytes = 0;
    }
    batches.at(-1)!.push(fetched);
    bytes += size;
  }
  return batches;
}
