/**
 * A child process holding some of the receivers of a fan-out run, so that the
 * load generator is not one JavaScript thread doing all the reading.
 * Each receiver counts the messages it gets and their latency (the sender's
 * wall-clock time is in the first 8 bytes of each payload).
 */
import * as zmq from "zeromq";
import { Client } from "../../src/client/index.js";

export interface ReceiverJob {
  mode: "curvehost" | "baseline";
  port: number;
  serverPublicKey: string;
  keys: Array<{ publicKey: string; secretKey: string }>;
}

export interface ReceiverReport {
  received: number[];
  latencies: number[];
}

const now = () => performance.timeOrigin + performance.now();
const job = JSON.parse(process.argv[2]!) as ReceiverJob;
const counts = job.keys.map(() => 0);
const latencies: number[] = [];
const onPayload = (index: number, payload: Buffer | undefined) => {
  counts[index]!++;
  if (payload && payload.length >= 8) latencies.push(now() - payload.readDoubleLE(0));
};

const closers: Array<() => void> = [];
for (const [index, keys] of job.keys.entries()) {
  if (job.mode === "curvehost") {
    const client = new Client({ host: "127.0.0.1", port: job.port, serverPublicKey: job.serverPublicKey, ...keys, requestTimeoutMs: 30_000, lostTimeoutMs: 60_000 });
    client.connect();
    await client.join();
    await client.sync();
    client.on("event", (event, frames) => {
      if (event.type === "commit") onPayload(index, frames[0]);
    });
    closers.push(() => client.close());
  } else {
    const socket = new zmq.Subscriber({ curveServerKey: job.serverPublicKey, ...{ curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey }, linger: 0, receiveHighWaterMark: 0 });
    const connected = new Promise<void>((resolve) => socket.events.on("handshake", () => resolve()));
    socket.subscribe();
    socket.connect(`tcp://127.0.0.1:${job.port + 1}`);
    await connected;
    void (async () => {
      for await (const [payload] of socket) onPayload(index, payload);
    })().catch(() => {});
    closers.push(() => socket.close());
  }
}
process.send!({ ready: true });
process.on("message", (message: string) => {
  if (message === "report") {
    process.send!({ received: counts, latencies } satisfies ReceiverReport);
    latencies.length = 0;
    counts.fill(0);
  }
  if (message === "close") {
    for (const close of closers) close();
    process.exit(0);
  }
});
