import { promises as fs } from "node:fs";
import { UsageError } from "./errors.js";

/** Creates a directory the user named, with a clear sentence when that is impossible. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`Cannot create the directory ${dir}: ${(error as Error).message}.`);
  }
}
