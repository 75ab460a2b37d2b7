/** Options shared by several commands, declared once. */
import type { Options } from "yargs";
import { DEFAULT_KEY_DIR } from "../keys/index.js";

export const keysOption = {
  type: "string",
  default: DEFAULT_KEY_DIR,
  describe: "the key store directory",
} as const satisfies Options;

export const portOption = {
  type: "number",
  default: 5555,
  describe: "the base port P; the server uses P (command), P+1 (subscriber), P+2 (publisher), P+3 (ttl)",
} as const satisfies Options;

/** No default in yargs, so that a command can tell --role given from not given; commands use DEFAULT_ROLE. */
export const roleOption = {
  choices: ["admin", "member"] as const,
  defaultDescription: "member",
  describe: "what the key may do: admins may open the session, kick users and take any node",
} as const satisfies Options;

export const DEFAULT_ROLE = "member";

export const expiresOption = {
  type: "string",
  describe: "when the key stops working: a date (2026-12-31), a date and time, or a span (12h, 7d, 4w)",
} as const satisfies Options;

export const identityOption = {
  type: "string",
  describe: "your NAME.key_secret, for an invite without a secret",
} as const satisfies Options;
