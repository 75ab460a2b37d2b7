/**
 * What the writer puts at the start of every payload:
 *   bytes 0–7   the time the message was due to be sent (ms, Float64LE); receivers measure latency from it
 *   bytes 8–11  the run it belongs to (UInt32LE); receivers count only the run they were told of
 */
const STAMP_BYTES = 12;

export function stampedPayload(size: number, dueAt: number, run: number): Buffer {
  const payload = Buffer.alloc(Math.max(size, STAMP_BYTES));
  payload.writeDoubleLE(dueAt, 0);
  payload.writeUInt32LE(run, 8);
  return payload;
}

export function readStamp(payload: Buffer | undefined): { dueAt: number; run: number } | null {
  if (!payload || payload.length < STAMP_BYTES) return null;
  return { dueAt: payload.readDoubleLE(0), run: payload.readUInt32LE(8) };
}
