/**
 * The client's four sockets (PROTOCOL.md §1): CURVE with the same routing id on
 * the three DEALERs, connected in the order a join needs, each read and written
 * in whole messages — frames cut into pieces and put back together here.
 */
import * as zmq from "zeromq";
import {
  Assembler,
  CURVE_FRAME_OVERHEAD,
  DEFAULT_LIMITS,
  MAX_FRAME_BYTES,
  ProtocolError,
  decodeServerMessage,
  framesOf,
  portOffset,
  type Body,
  type Header,
  type PortName,
  type ServerMessage,
} from "../protocol/index.js";
import { receiveEach } from "../transport/receive.js";
import { SendQueue } from "../transport/send-queue.js";

export interface Endpoint {
  host: string;
  /** The server's base port P. */
  port: number;
  serverPublicKey: string;
  publicKey: string;
  secretKey: string;
}

type Socket = zmq.Dealer | zmq.Subscriber;

export class Connection {
  readonly sockets: { command: zmq.Dealer; subscriber: zmq.Subscriber; publisher: zmq.Dealer; ttl: zmq.Dealer };
  private readonly out = new Map<PortName, SendQueue>();
  /** The server's frame size, once hello or welcome has told it. */
  frameBytes = DEFAULT_LIMITS.frame;

  constructor(
    private readonly endpoint: Endpoint,
    routingId: Buffer,
  ) {
    const secure = {
      curveServerKey: endpoint.serverPublicKey,
      curvePublicKey: endpoint.publicKey,
      curveSecretKey: endpoint.secretKey,
      // The server's frames are never larger than this, whatever it advertises.
      maxMessageSize: MAX_FRAME_BYTES + CURVE_FRAME_OVERHEAD,
      // The server cuts connections to remove users (PROTOCOL.md §8): come back quickly, then back off.
      reconnectInterval: 20,
      reconnectMaxInterval: 2000,
      linger: 0,
    };
    const dealer = () => new zmq.Dealer({ ...secure, routingId: routingId as unknown as string });
    this.sockets = { command: dealer(), subscriber: new zmq.Subscriber({ ...secure, receiveHighWaterMark: 0 }), publisher: dealer(), ttl: dealer() };
    for (const name of ["command", "publisher", "ttl"] as const) this.out.set(name, new SendQueue(this.sockets[name]));
  }

  address(port: PortName): string {
    const host = this.endpoint.host.includes(":") && !this.endpoint.host.startsWith("[") ? `[${this.endpoint.host}]` : this.endpoint.host;
    return `tcp://${host}:${this.endpoint.port + portOffset(port)}`;
  }

  connect(port: PortName): void {
    if (port === "subscriber") this.sockets.subscriber.subscribe();
    this.sockets[port].connect(this.address(port));
  }

  /** Sends one message, in pieces when it is larger than a frame. */
  send(port: "command" | "publisher" | "ttl", header: Header, body: Body = []): Promise<void> {
    return this.out.get(port)!.send(framesOf(header, body, this.frameBytes));
  }

  /**
   * Reads a socket until it closes, handing on each whole message the server
   * could have sent; anything else goes to `unreadable` (or is dropped). An error
   * there, or in a listener, ends the reading as a close would.
   */
  read(port: PortName, handle: (message: ServerMessage) => void, unreadable?: (header: Header, error: ProtocolError) => void): void {
    const socket: Socket = this.sockets[port];
    const assembler = new Assembler(MAX_FRAME_BYTES, () => ({ bytes: Number.MAX_SAFE_INTEGER, code: "bad_request" }));
    receiveEach(socket, (frames) => {
      if (frames.length !== 1) return;
      for (const result of assembler.push(frames[0]!)) {
        if (!result.ok) continue;
        let message: ServerMessage;
        try {
          message = decodeServerMessage(result.message);
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          unreadable?.(result.message.header, error);
          continue;
        }
        handle(message);
      }
    }).catch(() => {});
  }

  /** Calls `listener` each time the port's connection is remade (every handshake after the first). */
  onReconnected(port: PortName, listener: () => void): void {
    let handshakes = 0;
    this.sockets[port].events.on("handshake", () => {
      if (++handshakes > 1) listener();
    });
  }

  close(): void {
    for (const socket of Object.values(this.sockets)) socket.close();
  }
}

/**
 * Resolves at the socket's first completed CURVE handshake; rejects, naming the
 * port, when the server refuses the key there or nothing completes in time.
 */
export function firstHandshake(socket: zmq.Socket, port: PortName, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const events = socket.events;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      events.off("handshake", done);
      events.off("handshake:error:auth", refused);
      if (error) reject(error);
      else resolve();
    };
    const done = () => finish();
    const refused = () => finish(new Error(`the ${port} port refused this key`));
    const timer = setTimeout(() => finish(new Error(`the ${port} port did not complete its handshake within ${timeoutMs} ms`)), timeoutMs);
    events.on("handshake", done);
    events.on("handshake:error:auth", refused);
  });
}
