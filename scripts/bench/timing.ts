/** Clocks and bounded waits shared by the bench and its child processes. */
import { within } from "../../test/helpers/wait.js";

/**
 * Wall-clock milliseconds with sub-millisecond resolution. Every process on the
 * machine reads the same clock, so a time stamped in one process can be
 * subtracted from a time read in another (writer-to-receiver latency).
 */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or an error naming `what` (as the bench's) if it has not settled within `ms`. */
export const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => within(promise, ms, `bench: ${what}`);
