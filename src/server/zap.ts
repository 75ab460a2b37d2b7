/**
 * The ZAP handler (ZeroMQ RFC 27): libzmq asks it about every CURVE handshake on
 * every port of the server's context, and it must answer every request — a
 * request left unanswered, or a handler that is not there, would let libzmq
 * accept any key. So: bound before any port, in the same context, and its
 * death is fatal to the server.
 */
import * as zmq from "zeromq";
import { z85Encode } from "../keys/z85.js";

export const ZAP_ENDPOINT = "inproc://zeromq.zap.01";

export interface ZapRequest {
  domain: string;
  address: string;
  mechanism: string;
  /** The client's CURVE public key in Z85, for mechanism CURVE. */
  publicKey: string | null;
}

export type ZapVerdict = { allow: true; userId: string } | { allow: false; reason: string };

export class ZapHandler {
  private readonly socket: zmq.Router;

  constructor(
    context: zmq.Context,
    private readonly decide: (request: ZapRequest) => ZapVerdict,
    private readonly onFatal: (error: Error) => void,
  ) {
    this.socket = new zmq.Router({ context, linger: 0 });
  }

  /** Binds the handler; throws if another handler already holds the endpoint. */
  async start(): Promise<void> {
    await this.socket.bind(ZAP_ENDPOINT);
    void this.serve().catch((error: Error) => {
      if (!this.socket.closed) this.onFatal(error);
    });
  }

  close(): void {
    this.socket.close();
  }

  private async serve(): Promise<void> {
    for await (const frames of this.socket) {
      // [peer, empty, version, request id, domain, address, identity, mechanism, credentials...]
      const [peer, empty, version, requestId, domain, address, , mechanism, credential] = frames;
      if (!peer || !empty || !version || !requestId) continue; // not a ZAP request; nothing to answer to
      let status = "500";
      let text = "internal error";
      let userId = "";
      try {
        const verdict = this.decide({
          domain: domain?.toString() ?? "",
          address: address?.toString() ?? "",
          mechanism: mechanism?.toString() ?? "",
          publicKey: credential?.length === 32 ? z85Encode(credential) : null,
        });
        if (verdict.allow) [status, text, userId] = ["200", "OK", verdict.userId];
        else [status, text] = ["400", verdict.reason];
      } catch {
        // 500 below: refused, and the handler lives on
      }
      await this.socket.send([peer, empty, "1.0", requestId, status, text, userId, ""]);
    }
  }
}
