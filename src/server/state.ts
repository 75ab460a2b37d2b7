/**
 * The session's durable state: the journal replayed into a Session at start,
 * and compaction into a snapshot when the journal outgrows the live state.
 */
import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import { Journal, type JournalRecord, type Snapshot } from "./journal/index.js";
import type { SequencedChange, Session } from "./session.js";

export interface StateStore {
  journal: Journal | null;
  /**
   * The seq the loaded snapshot ended at (0 without one), and the events replayed
   * after it; once only, so that they are not held past the start (the history
   * keeps what it needs of them).
   */
  takeReplayed(): { from: number; events: JournalRecord[] };
  close(): Promise<void>;
}

/** Compact when the journal holds more than this many bytes and more than twice the live state. */
const COMPACT_MIN_BYTES = 64 * 1024 * 1024;
const COMPACT_CHECK_MS = 1000;

export async function openState(config: ServerConfig["state"], session: Session, log: Logger): Promise<StateStore> {
  let journal: Journal | null = null;
  let replayed: { from: number; events: JournalRecord[] } = { from: 0, events: [] };
  if (config) {
    const opened = await Journal.open({
      dir: config.dir,
      fsync: config.fsync,
      repair: config.repair,
      onWarning: (message) => log.warn({ event: "journal" }, message),
    });
    journal = opened.journal;
    if (opened.loaded.snapshot) restoreSnapshot(session, opened.loaded.snapshot);
    for (const record of opened.loaded.records) session.apply(record.header as unknown as SequencedChange, record.frames);
    replayed.from = opened.loaded.snapshot?.seq ?? 0;
    replayed.events = opened.loaded.records;
    log.info({ event: "restored", seq: session.seq, nodes: session.nodes.size, state: session.state }, "session restored from the journal");
  }
  let compacting = false;
  const maybeCompact = () => {
    if (!journal || compacting) return;
    let liveBytes = 0;
    for (const node of session.nodes.all()) liveBytes += node.size;
    if (journal.bytesSinceSnapshot < Math.max(COMPACT_MIN_BYTES, 2 * liveBytes)) return;
    compacting = true;
    journal
      .compact(takeSnapshot(session))
      .catch((error: Error) => log.error({ event: "journal", error: error.message }, "compaction failed; the journal keeps growing"))
      .finally(() => (compacting = false));
  };
  const compactTimer = journal ? setInterval(maybeCompact, COMPACT_CHECK_MS).unref() : undefined;
  return {
    journal,
    takeReplayed() {
      const taken = replayed;
      replayed = { from: taken.from, events: [] };
      return taken;
    },
    async close() {
      clearInterval(compactTimer);
      await journal?.close();
    },
  };
}

/** The live state as of its seq: node metadata as JSON, every part as a blob, in order. */
export function takeSnapshot(session: Session): Snapshot {
  const nodes = [];
  const blobs: Buffer[] = [];
  for (const node of session.nodes.all()) {
    nodes.push({ id: node.id, owner: node.owner, deps: node.deps, kind: node.kind, parts: node.parts.length });
    blobs.push(...node.parts);
  }
  return { seq: session.seq, meta: { state: session.state, nodes }, blobs };
}

export function restoreSnapshot(session: Session, snapshot: Snapshot): void {
  const meta = snapshot.meta as { state: "waiting" | "open"; nodes: Array<{ id: string; owner: string; deps: string[]; kind: string; parts: number }> };
  session.nodes.clear();
  let blob = 0;
  for (const node of meta.nodes) {
    const parts = snapshot.blobs.slice(blob, blob + node.parts);
    blob += node.parts;
    parts.forEach((part, i) => session.nodes.commit(node.id, { ...node, mode: i === 0 ? "full" : "delta" }, part));
  }
  session.state = meta.state;
  session.seq = snapshot.seq;
}
