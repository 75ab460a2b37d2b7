/**
 * The baseline: the least a CURVE relay can do on zeromq.js. A ROUTER takes
 * messages in on P+2 and a PUB sends them out on P+1, with the same server keys
 * as curvehost, and no protocol, checks, ZAP or journal. P and P+3 are idle
 * ROUTERs, so that the relay has curvehost's four CURVE ports (the handshake
 * suite connects to all four). Its libzmq I/O threads are laid out as
 * curvehost's (IO_THREADS for the PUB, one more for the rest: ioThreadAffinity),
 * its ports queue as many pending connections (LISTEN_BACKLOG), and node runs
 * it with the server's flags (processes.ts), so that the ratio shows what the
 * protocol costs, not a setting.
 * Run as: node relay.js PORT SECRET_KEY IO_THREADS
 */
import * as zmq from "zeromq";
import type { PortName } from "../../src/server/config.js";
import { LISTEN_BACKLOG, ioThreadAffinity } from "../../src/server/sockets.js";

const [port, secretKey, ioThreads] = process.argv.slice(2);
process.on("disconnect", () => process.exit(0)); // the bench is gone
const context = new zmq.Context({ ioThreads: Number(ioThreads) + 1 });
// A new options object per socket: zeromq.js deletes `context` from the object it is given, so a
// shared one would leave every socket after the first on the global context and its one I/O thread.
const secure = (port: PortName) => ({ context, affinity: ioThreadAffinity(context, port), curveServer: true, curveSecretKey: secretKey!, backlog: LISTEN_BACKLOG, linger: 0 });
const [command, incoming, ttl] = [new zmq.Router(secure("command")), new zmq.Router(secure("publisher")), new zmq.Router(secure("ttl"))];
// The same high-water mark as curvehost's subscriber port.
const publisher = new zmq.Publisher({ ...secure("subscriber"), sendHighWaterMark: 10_000 });
const bind = (socket: zmq.Socket, offset: number) => socket.bind(`tcp://127.0.0.1:${Number(port) + offset}`);
await Promise.all([bind(command, 0), bind(publisher, 1), bind(incoming, 2), bind(ttl, 3)]);
process.send!({ type: "ready" });
for await (const [, ...frames] of incoming) await publisher.send(frames);
