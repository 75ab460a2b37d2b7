export { JOURNAL_MAGIC, encodeRecord, type JournalRecord } from "./format.js";
export { FSYNC_MODES, Journal, JournalError, scanState, type FsyncMode, type Loaded, type OpenOptions } from "./journal.js";
export { readSnapshot, writeSnapshot, type Snapshot } from "./snapshot.js";
export { exportState, importState } from "./portable.js";
