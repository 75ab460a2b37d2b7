/** pino JSON logs by default, readable ones with --pretty. Never a secret key, never node data. */
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(options: { pretty: boolean; level?: string }): Logger {
  const level = options.level ?? "info";
  if (!options.pretty) return pino({ level, base: { name: "curvehost" } });
  return pino({
    level,
    base: { name: "curvehost" },
    transport: { target: "pino-pretty", options: { colorize: process.stdout.isTTY, ignore: "pid,hostname,name" } },
  });
}
