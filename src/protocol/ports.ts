/**
 * The four ports (PROTOCOL.md §1), declared once: the server binds from this
 * table, the client connects from it, and `check`, `serve`'s banner and invites
 * name the ports by it.
 */

export const PORT_TABLE = [
  { name: "command", offset: 0, server: "ROUTER", client: "DEALER", carries: "requests and their replies" },
  { name: "subscriber", offset: 1, server: "PUB", client: "SUB", carries: "every accepted change, to joined users" },
  { name: "publisher", offset: 2, server: "ROUTER", client: "DEALER", carries: "commits" },
  { name: "ttl", offset: 3, server: "ROUTER", client: "DEALER", carries: "ping and pong" },
] as const;

export type PortName = (typeof PORT_TABLE)[number]["name"];

/** The port names in offset order; each is also its ZAP domain. */
export const PORTS: readonly PortName[] = PORT_TABLE.map((port) => port.name);

/** The highest base port: the server uses it and the next three. */
export const MAX_BASE_PORT = 65535 - (PORT_TABLE.length - 1);

export function portOffset(name: PortName): number {
  return PORT_TABLE.find((port) => port.name === name)!.offset;
}
