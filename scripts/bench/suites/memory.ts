/** Memory: the RSS of a curvehost server holding a session with users joined, against the session's size. */
import { memoryOf } from "../processes.js";
import type { Row } from "../report.js";
import { sleep, withTimeout } from "../timing.js";

/** Joins `count` more users (connect + join, no sync), a few at a time. */
export async function joinIdleUsers(count: number, join: (index: number) => Promise<unknown>): Promise<void> {
  for (let first = 0; first < count; first += 16) {
    const batch = Array.from({ length: Math.min(16, count - first) }, (_, i) => join(first + i));
    await withTimeout(Promise.all(batch), 60_000, "users joining for the memory suite");
  }
  await sleep(500); // let the server finish what the joins started (users events, pings)
}

export function memoryRows(measured: { pid: number; empty: { rss: number }; users: number; sessionBytes: number; sessionLabel: string }): Row[] {
  const { rss, peak } = memoryOf(measured.pid);
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
  const params = `${measured.users} users, ${measured.sessionLabel}`;
  const details = { rssBytes: rss, peakRssBytes: peak, emptyRssBytes: measured.empty.rss, sessionBytes: measured.sessionBytes, users: measured.users };
  return [
    {
      bench: "memory: server RSS",
      params,
      unit: "× session size",
      curvehost: rss / measured.sessionBytes,
      baseline: null,
      note: `RSS ${mb(rss)}, peak ${mb(peak)}; includes the resync history of recent events; the relay keeps no session`,
      details,
    },
    {
      bench: "memory: RSS above empty",
      params,
      unit: "× session size",
      curvehost: (rss - measured.empty.rss) / measured.sessionBytes,
      baseline: null,
      note: `the same server empty, no users: ${mb(measured.empty.rss)}`,
    },
  ];
}
