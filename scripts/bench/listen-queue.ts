/**
 * The kernel's count of connection attempts it dropped because a listening
 * socket's queue was full (TcpExt ListenOverflows in /proc/net/netstat). Each
 * such client sends its SYN again only after a second, which shows in a
 * handshake burst as a long tail rather than as an error. The count is the
 * whole machine's: during the bench, the servers under test are its listeners.
 */
import { readFileSync } from "node:fs";

export function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    if (names[0] !== "TcpExt:") continue;
    const at = names.indexOf("ListenOverflows");
    return at < 0 ? NaN : Number(lines[i + 1]!.split(/\s+/)[at]);
  }
  return NaN;
}
