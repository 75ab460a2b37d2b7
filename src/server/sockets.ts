/**
 * The four CURVE server sockets, made so that they fail closed (PROTOCOL.md §1):
 * CURVE present, curveServer and the secret set before any bind, a non-empty ZAP
 * domain per port with the domain enforced, bounded messages and handshakes.
 * The ZAP handler must already be bound in `context` when this runs.
 */
import * as zmq from "zeromq";
import { CURVE_FRAME_OVERHEAD } from "../protocol/index.js";
import { MAX_SUBSCRIBER_IO_THREADS, PORTS, endpoint, type PortName, type ServerConfig } from "./config.js";

export interface ServerSockets {
  command: zmq.Router;
  subscriber: zmq.Publisher;
  publisher: zmq.Router;
  ttl: zmq.Router;
}

export class StartupError extends Error {
  override readonly name = "StartupError";
  readonly userFacing = true;
}

/** libzmq without CURVE would have nothing to enforce; refuse rather than run open. */
export function assertCurveAvailable(capability: Partial<Record<string, boolean>>): void {
  if (capability["curve"] !== true)
    throw new StartupError("This libzmq was built without CURVE; curvehost refuses to run without encryption.");
}

/** Messages a slow subscriber may have queued before libzmq drops for it alone. */
const SUBSCRIBER_HIGH_WATER_MARK = 10_000;
/** Replies queued per command peer before the outbox holds the rest in JavaScript. */
const ROUTER_HIGH_WATER_MARK = 1_000;
/**
 * Connections the kernel queues on a port until libzmq's I/O thread accepts them
 * (capped by net.core.somaxconn). libzmq's default of 100 overflowed in a burst of
 * 200 joins, and the kernel then drops a SYN, which the client repeats only after
 * a second: the same happens when every user reconnects at once, after a restart
 * or when the subscriber port is cycled (README, Performance).
 */
export const LISTEN_BACKLOG = 1024;

/**
 * The libzmq I/O threads a port's new connections may go to (a bit mask; 0 is
 * any). libzmq gives each new connection to the least loaded thread in the mask,
 * counting every connection alike, busy or idle: with every port on every thread
 * the subscriber connections, which carry the fan-out and its encryption once per
 * subscriber, piled up on some threads while the others held idle command, publisher
 * and ttl connections (README, Performance). So the subscriber port has every thread
 * but the last to itself, and the other three ports, one copy of each message, share
 * the last one. The server's context has `config.ioThreads` + 1 threads for this.
 */
export function ioThreadAffinity(context: zmq.Context, port: PortName): number {
  const subscriberThreads = Math.min(context.ioThreads - 1, MAX_SUBSCRIBER_IO_THREADS);
  if (subscriberThreads < 1) return 0;
  const others = 2 ** subscriberThreads;
  return port === "subscriber" ? others - 1 : others;
}

function secureOptions(context: zmq.Context, config: ServerConfig, secretKey: string, domain: PortName) {
  return {
    context,
    affinity: ioThreadAffinity(context, domain),
    curveServer: true,
    curveSecretKey: secretKey,
    zapDomain: domain,
    zapEnforceDomain: true,
    // Just above a frame (PROTOCOL.md §1): nothing a peer sends, before or after its handshake, makes libzmq allocate more.
    maxMessageSize: config.limits.frame + CURVE_FRAME_OVERHEAD,
    handshakeInterval: config.handshakeIntervalMs,
    backlog: LISTEN_BACKLOG,
    linger: 0,
  };
}

/** The subscriber port's PUB socket; made anew each time the server cuts every subscriber connection. */
export function createSubscriberSocket(context: zmq.Context, config: ServerConfig, secretKey: string): zmq.Publisher {
  // A zero send timeout makes every send synchronous: PUB never blocks, so the broadcaster needs no send queue.
  return new zmq.Publisher({ ...secureOptions(context, config, secretKey, "subscriber"), sendHighWaterMark: SUBSCRIBER_HIGH_WATER_MARK, sendTimeout: 0 });
}

export function createSockets(context: zmq.Context, config: ServerConfig, secretKey: string): ServerSockets {
  const router = (domain: PortName) =>
    new zmq.Router({
      ...secureOptions(context, config, secretKey, domain),
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: ROUTER_HIGH_WATER_MARK,
      receiveHighWaterMark: ROUTER_HIGH_WATER_MARK,
    });
  return {
    command: router("command"),
    subscriber: createSubscriberSocket(context, config, secretKey),
    publisher: router("publisher"),
    ttl: router("ttl"),
  };
}

/** Reads the security options back from each socket before it is exposed. */
export function assertSecure(sockets: ServerSockets): void {
  for (const name of PORTS) assertSocketSecure(sockets[name], name);
}

export function assertSocketSecure(socket: zmq.Socket, name: PortName): void {
  if (!socket.curveServer || socket.zapDomain !== name || !socket.zapEnforceDomain || socket.maxMessageSize <= 0)
    throw new StartupError(`The ${name} socket is not configured as a CURVE server; refusing to start.`);
}

export async function bindSockets(sockets: ServerSockets, config: ServerConfig): Promise<void> {
  for (const [offset, name] of PORTS.entries()) {
    const address = endpoint(config.bind, config.port + offset);
    try {
      await sockets[name].bind(address);
    } catch (error) {
      throw new StartupError(`Cannot listen on ${address} (${name} port): ${(error as Error).message}.`);
    }
  }
}

export function closeSockets(sockets: ServerSockets): void {
  for (const name of PORTS) sockets[name].close();
}
