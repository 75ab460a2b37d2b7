/**
 * The writer (one client in the bench's own process) and the two ways of
 * driving it: closed loop (a window of messages in flight, each next one sent
 * when one is acknowledged: the maximum rate) and open loop (sent on a schedule
 * whatever the acknowledgements do: latency at a given rate).
 * A message is acknowledged when the writer's own copy comes back on the
 * subscriber port, for curvehost (its commit acknowledgement) and the relay alike.
 */
import * as zmq from "zeromq";
import { Client } from "../../src/client/index.js";
import type { KeyPair } from "../../src/keys/index.js";
import { SendQueue } from "../../src/transport/send-queue.js";
import { curveOptions, handshake, openSubscriber } from "./bare-sockets.js";
import { stampedPayload } from "./payload.js";
import type { Mode } from "./processes.js";
import { now, withTimeout } from "./timing.js";

/** Messages in flight in a closed loop. */
export const WINDOW = 64;
/**
 * The nodes the curvehost writer commits to, in turn: an editor dragging a few
 * objects updates the same nodes again and again, rather than ever new ones.
 */
export const HOT_NODES = 16;

export interface Writer {
  /** Which server it writes to, for error messages. */
  readonly mode: Mode;
  /** Resolves when the message has come back to the writer. */
  send(payload: Buffer): Promise<void>;
  close(): void;
}

export function curvehostClient(port: number, serverPublicKey: string, keys: KeyPair): Client {
  return new Client({ host: "127.0.0.1", port, serverPublicKey, ...keys, requestTimeoutMs: 60_000, lostTimeoutMs: 120_000 });
}

export async function openWriter(mode: Mode, port: number, serverPublicKey: string, keys: KeyPair): Promise<Writer> {
  if (mode === "curvehost") {
    const client = curvehostClient(port, serverPublicKey, keys);
    client.connect();
    await withTimeout(client.join().then(() => client.sync()), 30_000, "the writer joining curvehost");
    let n = 0;
    return { mode, send: async (payload) => void (await client.commit(`w${n++ % HOT_NODES}`, payload)), close: () => client.close() };
  }
  const dealer = new zmq.Dealer(curveOptions(serverPublicKey, keys));
  const dealt = handshake(dealer);
  dealer.connect(`tcp://127.0.0.1:${port + 2}`);
  const [subscriber] = await withTimeout(Promise.all([openSubscriber(port, serverPublicKey, keys), dealt]), 15_000, "the writer's handshakes with the relay");
  const out = new SendQueue(dealer);
  // The relay keeps order, so the k-th copy back acknowledges the k-th message sent. An empty
  // message is a probe: its copy acknowledges nothing, and receivers ignore it (no stamp).
  const acknowledge: Array<() => void> = [];
  let echoed = () => {};
  const subscribed = new Promise<void>((resolve) => (echoed = resolve));
  void (async () => {
    for await (const [payload] of subscriber) {
      if (payload?.length === 0) echoed();
      else acknowledge.shift()?.();
    }
  })().catch(() => {});
  // The handshake done, the SUB's subscription still has to reach the PUB, and it travels through
  // another of the relay's I/O threads than the DEALER's messages: a message sent before it arrives
  // is not copied back, and its acknowledgement would never come. So probe until a copy comes back.
  const probe = () => void out.send([Buffer.alloc(0)]).catch(() => {});
  probe();
  const probing = setInterval(probe, 20);
  try {
    await withTimeout(subscribed, 15_000, "the relay copying back the writer's probe");
  } finally {
    clearInterval(probing);
  }
  return {
    mode,
    send: (payload) =>
      new Promise<void>((resolve, reject) => {
        acknowledge.push(resolve);
        out.send([payload]).catch(reject);
      }),
    close: () => (subscriber.close(), dealer.close()),
  };
}

export interface Driven {
  sent: number;
  startedAt: number;
  /** When the last message was acknowledged. */
  endedAt: number;
}

/**
 * WINDOW messages in flight, for `seconds` or until `count` have been sent.
 * Each payload is stamped with the time it is sent.
 */
export async function closedLoop(
  writer: Writer,
  options: { size: number; run: number; until: { seconds: number } | { count: number; withinMs: number } },
): Promise<Driven> {
  const { until } = options;
  const startedAt = now();
  const more = "seconds" in until ? () => now() < startedAt + until.seconds * 1000 : () => sent < until.count;
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (more()) {
      sent++;
      await writer.send(stampedPayload(options.size, now(), options.run));
    }
  };
  const limitMs = "seconds" in until ? until.seconds * 1000 + 60_000 : until.withinMs;
  await withTimeout(Promise.all(Array.from({ length: WINDOW }, lane)), limitMs, `a closed-loop run on ${writer.mode}`);
  return { sent, startedAt, endedAt: now() };
}

/**
 * Open loop at `rate` messages a second for `seconds`: a pacing timer sends every
 * message whose due time has come, without waiting for earlier ones to be
 * acknowledged. Each payload carries its due time, not the time it actually went
 * out, so a late sender shows up in the latency (no coordinated omission).
 */
export async function openLoop(writer: Writer, options: { size: number; run: number; rate: number; seconds: number }): Promise<Driven & { maxLateMs: number }> {
  const total = Math.round(options.rate * options.seconds);
  const startedAt = now();
  const dueAt = (i: number) => startedAt + (i * 1000) / options.rate;
  let sent = 0;
  let maxLateMs = 0;
  // Acknowledgements are counted, not kept: holding a promise per message would itself cause collection pauses.
  const acknowledged = new Promise<void>((resolve, reject) => {
    let outstanding = 0;
    const tick = () => {
      while (sent < total && dueAt(sent) <= now()) {
        const due = dueAt(sent++);
        maxLateMs = Math.max(maxLateMs, now() - due);
        outstanding++;
        writer.send(stampedPayload(options.size, due, options.run)).then(() => --outstanding === 0 && sent === total && resolve(), reject);
      }
      if (sent < total) setTimeout(tick, dueAt(sent) - now());
      else if (outstanding === 0) resolve(); // nothing to send at all
    };
    tick();
  });
  await withTimeout(acknowledged, options.seconds * 1000 + 60_000, `an open-loop run on ${writer.mode} and its acknowledgements`);
  return { sent: total, startedAt, endedAt: now(), maxLateMs };
}
