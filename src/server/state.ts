/**
 * The session's durable state: the journal replayed into a Session at start,
 * compaction into a snapshot when the journal outgrows the live state, and the
 * release of locks held by users who do not come back after a restart.
 */
import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import type { ServerContext } from "./context.js";
import { Journal, type JournalRecord, type Snapshot } from "./journal/index.js";
import { COMMON } from "./nodes.js";
import type { SequencedChange, Session } from "./session.js";

export interface StateStore {
  journal: Journal | null;
  /** The seq the loaded snapshot ended at (0 without one), and the events replayed after it. */
  replayed: { from: number; events: JournalRecord[] };
  /** After a restart: nodes of users who have not rejoined within the timeout go back to common. */
  releaseAbsentOwners(context: ServerContext): void;
  close(): Promise<void>;
}

/** Compact when the journal holds more than this many bytes and more than twice the live state. */
const COMPACT_MIN_BYTES = 64 * 1024 * 1024;
const COMPACT_CHECK_MS = 1000;

export async function openState(config: ServerConfig["state"], session: Session, log: Logger): Promise<StateStore> {
  let journal: Journal | null = null;
  const replayed: StateStore["replayed"] = { from: 0, events: [] };
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
  let releaseTimer: NodeJS.Timeout | undefined;
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
    replayed,
    releaseAbsentOwners(context) {
      if (!journal || session.nodes.size === 0) return;
      releaseTimer = setTimeout(() => {
        const owners = new Set<string>();
        for (const node of session.nodes.all()) if (node.owner !== COMMON && !context.users.byName(node.owner)) owners.add(node.owner);
        for (const owner of owners) {
          const release = session.planRelease(owner);
          if (release) context.broadcaster.publish(release);
        }
      }, context.config.timeoutMs);
      releaseTimer.unref();
    },
    async close() {
      clearTimeout(releaseTimer);
      clearInterval(compactTimer);
      await journal?.close();
    },
  };
}

/** The live state as of its seq: node metadata as JSON, every frame as a blob, in order. */
export function takeSnapshot(session: Session): Snapshot {
  const nodes = [];
  const blobs: Buffer[] = [];
  for (const node of session.nodes.all()) {
    nodes.push({ id: node.id, owner: node.owner, deps: node.deps, kind: node.kind, frames: node.frames.length });
    blobs.push(...node.frames);
  }
  return { seq: session.seq, meta: { state: session.state, nodes }, blobs };
}

export function restoreSnapshot(session: Session, snapshot: Snapshot): void {
  const meta = snapshot.meta as { state: "waiting" | "open"; nodes: Array<{ id: string; owner: string; deps: string[]; kind: string; frames: number }> };
  session.nodes.clear();
  let blob = 0;
  for (const node of meta.nodes) {
    const frames = snapshot.blobs.slice(blob, blob + node.frames);
    blob += node.frames;
    frames.forEach((frame, i) => session.nodes.commit(node.id, { ...node, mode: i === 0 ? "full" : "delta" }, frame));
  }
  session.state = meta.state;
  session.seq = snapshot.seq;
}
