/**
 * A child process holding some of the receivers of a run, so that reading is
 * spread over processes rather than one JavaScript thread doing all of it.
 * curvehost receivers are Clients (connect, join, sync), or with `bare` the
 * cut-down users of bare-member.ts; baseline receivers are bare SUB sockets on
 * the relay. Each receiver counts the messages of the current run and their
 * latency from the due time stamped in the payload.
 *
 * Messages from the bench (see ReceiverPool): begin (a run; answered "begun"),
 * expect (a count; answered "done" once every receiver here holds it), report,
 * close. Run as: node receiver.js CLIENTS_JOB_JSON
 */
import type { KeyPair } from "../../src/keys/index.js";
import { joinBare } from "./bare-member.js";
import { openSubscriber, readPayloads } from "./bare-sockets.js";
import { curvehostClient } from "./load.js";
import { readStamp } from "./payload.js";
import { Samples } from "./samples.js";
import type { ClientsJob } from "./processes.js";
import { now, withTimeout } from "./timing.js";

export type ToReceiver = { type: "begin"; run: number } | { type: "expect"; count: number } | { type: "report" } | { type: "close" };

export interface ReceiverReport {
  type: "report";
  /** Messages of the run each receiver got. */
  received: number[];
  /** Milliseconds from due time to receipt, every message of the run. */
  latencies: Float64Array;
  /** When the last message of the run arrived here. */
  lastAt: number;
}

const job = JSON.parse(process.argv[2]!) as ClientsJob;
process.on("disconnect", () => process.exit(0)); // the bench is gone

let run = -1;
let expected = Infinity;
let complete = 0;
let lastAt = 0;
const received = job.keys.map(() => 0);
const latencies = new Samples();

function onPayload(receiver: number, payload: Buffer | undefined): void {
  const stamp = readStamp(payload);
  if (!stamp || stamp.run !== run) return;
  lastAt = now();
  latencies.add(lastAt - stamp.dueAt);
  if (++received[receiver]! === expected && ++complete === received.length) process.send!({ type: "done" });
}

async function connect(index: number, keys: KeyPair): Promise<() => void> {
  if (job.mode === "curvehost" && job.bare) return joinBare(job.port, job.serverPublicKey, keys, (payload) => onPayload(index, payload));
  if (job.mode === "curvehost") {
    const client = curvehostClient(job.port, job.serverPublicKey, keys);
    client.on("event", (event) => {
      if (event.type === "commit") onPayload(index, event.nodes[0]?.data);
    });
    client.on("lost", (reason) => console.error(`bench receiver ${index}: lost the server: ${reason}`));
    client.connect();
    await client.join();
    await client.sync();
    return () => client.close();
  }
  const socket = await openSubscriber(job.port, job.serverPublicKey, keys);
  // The relay publishes the writer's payload as it came: the frame is the payload.
  readPayloads(socket, (frame) => frame, (payload) => onPayload(index, payload));
  return () => socket.close();
}

// A few joins at a time: quicker than one by one, gentler than all at once.
const closers: Array<() => void> = [];
for (let first = 0; first < job.keys.length; first += 8) {
  const batch = job.keys.slice(first, first + 8).map((keys, i) => connect(first + i, keys));
  closers.push(...(await withTimeout(Promise.all(batch), 60_000, `receivers joining (pid ${process.pid})`)));
}

process.on("message", (message: ToReceiver) => {
  switch (message.type) {
    case "begin":
      run = message.run;
      expected = Infinity;
      complete = 0;
      lastAt = 0;
      received.fill(0);
      latencies.clear();
      process.send!({ type: "begun" });
      break;
    case "expect":
      expected = message.count;
      complete = received.filter((count) => count >= expected).length;
      if (complete === received.length) process.send!({ type: "done" });
      break;
    case "report":
      process.send!({ type: "report", received, latencies: latencies.toArray(), lastAt } satisfies ReceiverReport);
      break;
    case "close":
      for (const close of closers) close();
      process.exit(0);
  }
});
process.send!({ type: "ready" });
