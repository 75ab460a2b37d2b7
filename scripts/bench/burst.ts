/**
 * A child process holding part of a handshake burst: its clients are made in
 * advance, and on "go" all of them connect at once. curvehost clients connect
 * and join (Client.join: the command port's CURVE handshake, the join proof,
 * then the subscriber, publisher and ttl handshakes). Baseline clients make the
 * same four CURVE handshakes to the relay's four ports and wait for all of them.
 * Run as: node burst.js CLIENTS_JOB_JSON
 */
import * as zmq from "zeromq";
import { generateKeyPair, type KeyPair } from "../../src/keys/index.js";
import { curveOptions, handshake } from "./bare-sockets.js";
import { curvehostClient } from "./load.js";
import type { ClientsJob } from "./processes.js";
import { now, withTimeout } from "./timing.js";

export interface BurstReport {
  type: "done";
  startedAt: number;
  endedAt: number;
  joined: number;
  /** Why the first client that failed did. */
  failure: string | null;
}

const job = JSON.parse(process.argv[2]!) as ClientsJob;
// A hundred clients a process, each with four sockets and their handshake observers (two libzmq
// sockets each), pass libzmq's default of 1,023 sockets; it must be raised before the first socket.
zmq.context.maxSockets = 4096;
process.on("disconnect", () => process.exit(0)); // the bench is gone
await generateKeyPair(); // loads libsodium now, so that the burst does not time its loading

const PORT_OFFSETS = [0, 1, 2, 3];
const address = (offset: number) => `tcp://127.0.0.1:${job.port + offset}`;

/** The four CURVE handshakes of one baseline client, as bare sockets. */
function relayClient(keys: KeyPair) {
  const secure = curveOptions(job.serverPublicKey, keys);
  const sockets = PORT_OFFSETS.map((offset) => (offset === 1 ? new zmq.Subscriber(secure) : new zmq.Dealer(secure)));
  return {
    connect: async () => {
      const handshakes = sockets.map(handshake);
      sockets.forEach((socket, offset) => socket.connect(address(offset)));
      await Promise.all(handshakes);
    },
    close: () => sockets.forEach((socket) => socket.close()),
  };
}

function curvehost(keys: KeyPair) {
  const client = curvehostClient(job.port, job.serverPublicKey, keys);
  return {
    connect: async () => {
      client.connect();
      await client.join();
    },
    close: () => client.close(),
  };
}

const clients = job.keys.map(job.mode === "curvehost" ? curvehost : relayClient);

process.on("message", async (message: { type: string }) => {
  if (message.type === "go") {
    const startedAt = now();
    const outcomes = await Promise.allSettled(clients.map((client) => withTimeout(client.connect(), 60_000, "a client of the burst joining")));
    const endedAt = now();
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    process.send!({
      type: "done",
      startedAt,
      endedAt,
      joined: outcomes.filter((outcome) => outcome.status === "fulfilled").length,
      failure: failed ? String(failed.reason) : null,
    } satisfies BurstReport);
  }
  if (message.type === "close") {
    for (const client of clients) client.close();
    process.exit(0);
  }
});
process.send!({ type: "ready" });
