/**
 * The four CURVE server sockets, made so that they fail closed (PROTOCOL.md §1):
 * CURVE present, curveServer and the secret set before any bind, a non-empty ZAP
 * domain per port with the domain enforced, bounded messages and handshakes.
 * The ZAP handler must already be bound in `context` when this runs.
 */
import * as zmq from "zeromq";
import { CURVE_FRAME_OVERHEAD, portOffset } from "../protocol/index.js";
import { MAX_SUBSCRIBER_IO_THREADS, PORTS, endpoint, type PortName, type ServerConfig } from "./config.js";

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
/**
 * Frames libzmq queues per peer on a ROUTER, out and in: with frames of up to
 * limits.frame (256 KiB), a peer that reads nothing holds at most 16 MiB of
 * replies in libzmq (the rest waits in the outbox, which has a bound of its own),
 * and one that sends faster than the server reads at most 64 MiB of requests.
 */
const ROUTER_SEND_HIGH_WATER_MARK = 64;
const ROUTER_RECEIVE_HIGH_WATER_MARK = 256;
/**
 * Connections the kernel queues on a port until libzmq accepts them (capped by
 * net.core.somaxconn): libzmq's 100 overflowed when many users joined or
 * reconnected at once, and a dropped SYN costs its client a second
 * (BENCHMARKS.md, Findings: the listen queue).
 */
export const LISTEN_BACKLOG = 1024;

/**
 * The libzmq I/O threads a port's new connections may go to (a bit mask; 0 is
 * any). libzmq counts idle and busy connections alike, so the subscriber
 * connections, which carry the fan-out's encryption, piled up on one thread
 * (BENCHMARKS.md, Findings: I/O threads). The subscriber port has every thread but
 * the last to itself; the other three ports share the last one. The server's
 * context has `config.ioThreads` + 1 threads for this.
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

/** The subscriber port's PUB socket. */
function createSubscriberSocket(context: zmq.Context, config: ServerConfig, secretKey: string): zmq.Publisher {
  // A zero send timeout makes every send synchronous: PUB never blocks, so the broadcaster needs no send queue.
  return new zmq.Publisher({ ...secureOptions(context, config, secretKey, "subscriber"), sendHighWaterMark: SUBSCRIBER_HIGH_WATER_MARK, sendTimeout: 0 });
}

function createRouter(context: zmq.Context, config: ServerConfig, secretKey: string, domain: Exclude<PortName, "subscriber">): zmq.Router {
  return new zmq.Router({
    ...secureOptions(context, config, secretKey, domain),
    mandatory: true,
    sendTimeout: 0,
    sendHighWaterMark: ROUTER_SEND_HIGH_WATER_MARK,
    receiveHighWaterMark: ROUTER_RECEIVE_HIGH_WATER_MARK,
  });
}

type SocketOf<N extends PortName> = N extends "subscriber" ? zmq.Publisher : zmq.Router;

function createSocket<N extends PortName>(context: zmq.Context, config: ServerConfig, secretKey: string, name: N): SocketOf<N> {
  const socket = name === "subscriber" ? createSubscriberSocket(context, config, secretKey) : createRouter(context, config, secretKey, name as Exclude<PortName, "subscriber">);
  assertSocketSecure(socket, name);
  return socket as SocketOf<N>;
}

/** Reads the security options back from a socket before it is exposed. */
export function assertSocketSecure(socket: zmq.Socket, name: PortName): void {
  if (!socket.curveServer || socket.zapDomain !== name || !socket.zapEnforceDomain || socket.maxMessageSize <= 0)
    throw new StartupError(`The ${name} socket is not configured as a CURVE server; refusing to start.`);
}

/** libzmq releases a port in its I/O thread after a close; on a loaded machine that can take a while. */
const REBIND_LIMIT_MS = 10_000;
/** What a replaced socket still sends of what it was given (a kick's notice, say) before it lets go. */
const LINGER_ON_CUT_MS = 1000;

/**
 * The four sockets, made so that they fail closed, bound, and replaced when a
 * removal must cut connections: libzmq cannot close one peer's connection, so
 * the server closes the whole socket (every connection on it) and binds a new
 * one on the same port. Honest peers reconnect by themselves; ZAP decides anew.
 */
export class ServerSockets {
  private readonly live: { [N in PortName]: SocketOf<N> };

  /** `onReplaced` hears of each new socket once it is bound. */
  constructor(
    private readonly context: zmq.Context,
    private readonly config: ServerConfig,
    private readonly secretKey: string,
    private readonly onReplaced: <N extends PortName>(name: N, socket: SocketOf<N>) => void = () => {},
  ) {
    this.live = {
      command: createSocket(context, config, secretKey, "command"),
      subscriber: createSocket(context, config, secretKey, "subscriber"),
      publisher: createSocket(context, config, secretKey, "publisher"),
      ttl: createSocket(context, config, secretKey, "ttl"),
    };
  }

  get<N extends PortName>(name: N): SocketOf<N> {
    return this.live[name];
  }

  async bind(): Promise<void> {
    for (const name of PORTS) {
      const address = this.address(name);
      try {
        await this.live[name].bind(address);
      } catch (error) {
        throw new StartupError(`Cannot listen on ${address} (${name} port): ${(error as Error).message}.`);
      }
    }
  }

  /** Closes these sockets, with every connection on them, and binds new ones in their place. */
  async replace(names: readonly PortName[]): Promise<void> {
    const fresh = names.map((name) => [name, createSocket(this.context, this.config, this.secretKey, name)] as const);
    for (const [name, socket] of fresh) {
      this.live[name].linger = LINGER_ON_CUT_MS;
      this.live[name].close();
      (this.live as Record<PortName, zmq.Socket>)[name] = socket;
    }
    for (const [name, socket] of fresh) {
      await rebind(socket, this.address(name));
      this.onReplaced(name, socket);
    }
  }

  close(): void {
    for (const name of PORTS) this.live[name].close();
  }

  private address(name: PortName): string {
    return endpoint(this.config.bind, this.config.port + portOffset(name));
  }
}

async function rebind(socket: zmq.Socket, address: string): Promise<void> {
  const deadline = Date.now() + REBIND_LIMIT_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await socket.bind(address);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
