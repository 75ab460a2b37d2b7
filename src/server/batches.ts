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

/** Items in groups of about REPLY_BATCH_BYTES by `sizeOf`; an item bigger than that goes alone. */
function batchBySize<T>(items: Iterable<T>, sizeOf: (item: T) => number): T[][] {
  const batches: T[][] = [[]];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (bytes + size > REPLY_BATCH_BYTES && batches.at(-1)!.length > 0) {
      batches.push([]);
      bytes = 0;
    }
    batches.at(-1)!.push(item);
    bytes += size;
  }
  return batches;
}

/** Catalog entries in groups whose JSON stays near the batch size. */
export function catalogBatches(nodes: Iterable<Node>): CatalogEntry[][] {
  const entries = [...nodes].map((node) => ({ id: node.id, owner: node.owner, deps: node.deps, kind: node.kind, size: node.size, deltas: node.frames.length - 1 }));
  return batchBySize(entries, (entry) => 64 + entry.id.length + entry.owner.length + entry.kind.length + entry.deps.reduce((n, d) => n + d.length + 3, 0));
}

export interface FetchedNode {
  header: { id: string; owner: string; deps: string[]; kind: string; frames: number; removed?: true };
  frames: Buffer[];
}

/** Requested nodes grouped so each message's payload stays near the batch size (a bigger node goes alone). */
export function fetchBatches(ids: readonly string[], lookup: (id: string) => Node | undefined): FetchedNode[][] {
  const fetched = ids.map((id): FetchedNode => {
    const node = lookup(id);
    // The frames array is copied: a later delta must not change a reply already cut.
    return node
      ? { header: { id, owner: node.owner, deps: node.deps, kind: node.kind, frames: node.frames.length }, frames: [...node.frames] }
      : { header: { id, owner: "", deps: [], kind: "", frames: 0, removed: true }, frames: [] };
  });
  return batchBySize(fetched, (node) => 64 + node.header.id.length + node.frames.reduce((n, frame) => n + frame.length, 0));
}
