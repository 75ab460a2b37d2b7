import test from "ava";
import * as zmq from "zeromq";
import { generateKeyPair } from "../../src/keys/index.js";
import { PORT_NAMES, frame, handshakeOutcome, headerOf, rawPeer, receiveWithin } from "../helpers/raw.js";
import { startServer } from "../helpers/server.js";

for (const [offset, port] of PORT_NAMES.entries()) {
  test(`a key not on the allowlist is refused by ZAP on the ${port} port, and the refusal is logged`, async (t) => {
    const { server, config, logs } = await startServer(t);
    const stranger = await generateKeyPair();
    const socket = rawPeer(config.port, offset, { serverPublicKey: server.publicKey, ...stranger });
    t.teardown(() => socket.close());
    t.is(await handshakeOutcome(socket), "auth");
    const refusal = logs.find((line) => line.event === "handshake_refused" && line.domain === port);
    t.truthy(refusal, "refusal logged");
    t.is(refusal!.address, "127.0.0.1");
    t.regex(refusal!.fingerprint, /^SHA256:/);
  });

  test(`a NULL-mechanism client never completes a handshake on the ${port} port`, async (t) => {
    const { config } = await startServer(t);
    const socket = rawPeer(config.port, offset, {});
    t.teardown(() => socket.close());
    const outcome = await handshakeOutcome(socket, 2000);
    t.not(outcome, "handshake");
  });

  test(`a client with the wrong server key gets nothing from the ${port} port`, async (t) => {
    const { config, allow } = await startServer(t);
    const keys = await allow("alice");
    const impostor = await generateKeyPair();
    const socket = rawPeer(config.port, offset, { serverPublicKey: impostor.publicKey, ...keys });
    t.teardown(() => socket.close());
    if (socket instanceof zmq.Dealer) await socket.send(frame({ type: "hello", protocol: 2, ref: 1 }));
    t.not(await handshakeOutcome(socket, 2000), "handshake");
    t.is(await receiveWithin(socket, 500), null);
  });
}

test("an allowed key completes the handshake on the command port and may say hello before joining", async (t) => {
  const { server, config, allow } = await startServer(t);
  const keys = await allow("alice");
  const socket = rawPeer(config.port, 0, { serverPublicKey: server.publicKey, ...keys }) as zmq.Dealer;
  t.teardown(() => socket.close());
  await socket.send(frame({ type: "hello", protocol: 2, ref: 7 }));
  const reply = await receiveWithin(socket, 3000);
  t.like(headerOf(reply![0]!), { type: "hello", ref: 7, server: "curvehost" });
});

test("an allowed key that has not joined is refused on the subscriber, publisher and ttl ports", async (t) => {
  const { server, config, allow } = await startServer(t);
  const keys = await allow("alice");
  for (const offset of [1, 2, 3]) {
    const socket = rawPeer(config.port, offset, { serverPublicKey: server.publicKey, ...keys });
    t.teardown(() => socket.close());
    t.is(await handshakeOutcome(socket), "auth", PORT_NAMES[offset]);
  }
});
