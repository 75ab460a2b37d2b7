import test from "ava";
import net from "node:net";
import * as zmq from "zeromq";
import { generateKeyPair } from "../../src/keys/index.js";
import { attackCounter } from "../helpers/attacks.js";
import { PORT_NAMES, commitFrame, frame, handshakeOutcome, rawPeer, receiveWithin } from "../helpers/raw.js";
import { freePortBlock } from "../helpers/ports.js";
import { committed, nextEvent, startServer } from "../helpers/server.js";

const attacks = attackCounter("handshake");

/**
 * A TCP relay between a real CURVE client and the server that flips one byte of
 * the client's stream at `offset`: the greeting, HELLO, INITIATE (with the
 * cookie) and the first message box all pass through it.
 */
async function tamperingRelay(target: number, offset: number): Promise<{ port: number; close(): void }> {
  const port = await freePortBlock(1);
  const sockets: net.Socket[] = [];
  const relay = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: target });
    sockets.push(client, upstream);
    let seen = 0;
    client.on("data", (chunk: Buffer) => {
      if (offset >= seen && offset < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[offset - seen] = chunk[offset - seen]! ^ 0x55;
      }
      seen += chunk.length;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => (client.destroy(), upstream.destroy());
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => relay.listen(port, "127.0.0.1", resolve));
  return { port, close: () => (relay.close(), sockets.forEach((s) => s.destroy())) };
}

// The greeting's signature (0) and mechanism (12); in HELLO (64-265) its name (70), the client's
// transient key (150), nonce (180) and box (200, 264); INITIATE with the cookie and its box (from
// 266). Not flipped: the greeting's version and filler and HELLO's 72 bytes of anti-amplification
// padding (74-145), which libzmq ignores by design and which carry nothing a peer could use.
const OFFSETS = [0, 12, 70, 150, 180, 200, 264, 270, 300, 350, 400, 450];

test("a flipped byte anywhere in the client's greeting, HELLO, INITIATE or cookie never yields a session", async (t) => {
  const server = await startServer(t);
  const alice = await server.joined("alice");
  const bob = await server.joined("bob");
  const keys = await server.allow("carol");
  // The control: through the same relay, untouched, the server answers.
  const control = await tamperingRelay(server.config.port, -1);
  const honest = new zmq.Dealer({ curveServerKey: server.server.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0 });
  honest.connect(`tcp://127.0.0.1:${control.port}`);
  await honest.send(frame({ type: "hello", protocol: 2, ref: "control" }));
  t.not(await receiveWithin(honest, 5000), null, "the relay itself works");
  honest.close();
  control.close();
  for (const offset of OFFSETS) {
    const relay = await tamperingRelay(server.config.port, offset);
    const socket = new zmq.Dealer({ curveServerKey: server.server.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0, reconnectInterval: 10_000 });
    socket.connect(`tcp://127.0.0.1:${relay.port}`);
    await socket.send(frame({ type: "hello", protocol: 2, ref: offset }));
    const reply = await receiveWithin(socket, 700);
    socket.close();
    relay.close();
    t.is(reply, null, `byte ${offset} flipped, yet the server answered`);
    attacks.count();
  }
  const seen = nextEvent<[any]>(bob, "event", committed("after"), 5000);
  await alice.commit("after", Buffer.from("x"));
  await seen;
});

test("raw bytes after the greeting are dropped, and the server keeps serving", async (t) => {
  const server = await startServer(t);
  const alice = await server.joined("alice");
  for (const [offset] of PORT_NAMES.entries()) {
    const socket = net.connect({ host: "127.0.0.1", port: server.config.port + offset });
    const closed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      socket.once("close", () => (clearTimeout(timer), resolve(true)));
      socket.on("error", () => {});
      socket.on("data", () => {});
    });
    const greeting = Buffer.alloc(64);
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10] = 3;
    greeting.write("CURVE", 12);
    socket.write(greeting);
    socket.write(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256)));
    t.true(await closed, `port ${offset}`);
    attacks.count();
  }
  t.like(await alice.hello(), { type: "hello" });
});

test("a client with an all-zero public key is refused on every port", async (t) => {
  const server = await startServer(t);
  const zeroKey = "0".repeat(40); // Z85 of 32 zero bytes
  const { secretKey } = await generateKeyPair();
  for (const [offset, name] of PORT_NAMES.entries()) {
    const socket = rawPeer(server.config.port, offset, { serverPublicKey: server.server.publicKey, publicKey: zeroKey, secretKey });
    t.teardown(() => socket.close());
    t.not(await handshakeOutcome(socket, 3000), "handshake", name);
    attacks.count();
  }
});

test("a second connection with a joined user's routing id gets nothing, and the user keeps working", async (t) => {
  const server = await startServer(t);
  const alice = await server.joined("alice");
  const bob = await server.joined("bob");
  const malloryKeys = await server.allow("mallory");
  // Mallory somehow learned alice's routing id: libzmq's ROUTER refuses a second peer with the same id.
  for (const offset of [0, 2]) {
    const socket = rawPeer(server.config.port, offset, { serverPublicKey: server.server.publicKey, ...malloryKeys }, alice.routingId) as zmq.Dealer;
    t.teardown(() => socket.close());
    await socket.send(offset === 0 ? frame({ type: "users", ref: 1 }) : commitFrame([{ id: "forged", data: Buffer.from("x") }], { ref: 1 }));
    t.is(await receiveWithin(socket, 700), null);
    attacks.count();
  }
  const seen = nextEvent<[any]>(bob, "event", committed("still-alice"), 5000);
  await alice.commit("still-alice", Buffer.from("x"));
  await seen;
  t.false(bob.replica.nodes.has("forged"));
});

test("a kicked user cannot reconnect its subscriber", async (t) => {
  const server = await startServer(t);
  const admin = await server.joined("root", "admin");
  const keys = await server.allow("bob");
  const bob = await server.client("bob", { keys });
  await bob.join();
  await admin.kick("bob");
  const socket = rawPeer(server.config.port, 1, { serverPublicKey: server.server.publicKey, ...keys });
  t.teardown(() => socket.close());
  t.is(await handshakeOutcome(socket), "auth");
  attacks.count();
});

test("NULL and PLAIN clients are refused on every port", async (t) => {
  const server = await startServer(t);
  for (const [offset, name] of PORT_NAMES.entries()) {
    const plain = offset === 1 ? new zmq.Subscriber({ plainUsername: "admin", plainPassword: "admin", linger: 0 }) : new zmq.Dealer({ plainUsername: "admin", plainPassword: "admin", linger: 0 });
    const none = rawPeer(server.config.port, offset, {});
    t.teardown(() => (plain.close(), none.close()));
    plain.connect(`tcp://127.0.0.1:${server.config.port + offset}`);
    t.not(await handshakeOutcome(plain, 2000), "handshake", `PLAIN on ${name}`);
    t.not(await handshakeOutcome(none, 2000), "handshake", `NULL on ${name}`);
    attacks.count(2);
  }
});
