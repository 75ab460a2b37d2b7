import test, { type ExecutionContext } from "ava";
import * as zmq from "zeromq";
import { receiveEach } from "../../src/transport/receive.js";
import { SendQueue } from "../../src/transport/send-queue.js";
import { freePortBlock } from "../helpers/ports.js";

/** A CURVE ROUTER on 127.0.0.1 and a DEALER connected to it, both closed when the test ends. */
async function curvePair(t: ExecutionContext, options: { highWaterMark: number }) {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const router = new zmq.Router({ curveServer: true, curveSecretKey: server.secretKey, linger: 0, receiveHighWaterMark: options.highWaterMark });
  const port = await freePortBlock(1);
  await router.bind(`tcp://127.0.0.1:${port}`);
  const dealer = new zmq.Dealer({
    curveServerKey: server.publicKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
    linger: 0,
    sendHighWaterMark: options.highWaterMark,
  });
  t.teardown(() => (dealer.close(), router.close()));
  dealer.connect(`tcp://127.0.0.1:${port}`);
  return { router, dealer };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test("SendQueue delivers every message in order when the peer's queue fills (EAGAIN), none lost or refused", async (t) => {
  // Tiny high-water marks and a router that reads nothing at first: most sends meet a full queue.
  const { router, dealer } = await curvePair(t, { highWaterMark: 4 });
  const queue = new SendQueue(dealer);
  const count = 2000;
  const sent = Array.from({ length: count }, (_, i) => queue.send([Buffer.from(String(i))]));
  t.is(dealer.sendTimeout, 0, "the fast path keeps a zero send timeout");
  const received: number[] = [];
  await within(
    receiveEach(router, ([, body]) => {
      received.push(Number(body!.toString()));
      if (received.length === count) router.close();
    }),
    20_000,
    "every message received",
  );
  await within(Promise.all(sent), 5000, "every send resolved");
  t.deepEqual(received, Array.from({ length: count }, (_, i) => i));
  t.is(dealer.sendTimeout, 0, "the timeout is zero again after waiting for room");
});

test("receiveEach hands over messages in order and returns once its socket is closed", async (t) => {
  const { router, dealer } = await curvePair(t, { highWaterMark: 1000 });
  const queue = new SendQueue(dealer);
  const received: string[] = [];
  let closeAfter = 3;
  const reading = receiveEach(router, ([, body]) => {
    received.push(body!.toString());
    if (--closeAfter === 0) setImmediate(() => router.close()); // closed while the next receive waits
  });
  for (const word of ["one", "two", "three"]) await queue.send([Buffer.from(word)]);
  await within(reading, 5000, "receiveEach returned after close");
  t.deepEqual(received, ["one", "two", "three"]);
});
