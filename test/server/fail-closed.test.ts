import test from "ava";
import { CURVE_FRAME_OVERHEAD, DEFAULT_LIMITS } from "../../src/protocol/index.js";
import net from "node:net";
import path from "node:path";
import pino from "pino";
import * as zmq from "zeromq";
import { KeyStore, generateKeyPair } from "../../src/keys/index.js";
import { DEFAULTS, type ServerConfig } from "../../src/server/config.js";
import { Server } from "../../src/server/server.js";
import { LISTEN_BACKLOG, StartupError, assertCurveAvailable } from "../../src/server/sockets.js";
import { ZAP_ENDPOINT } from "../../src/server/zap.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { PORT_NAMES, curveGreeting, handshakeOutcome, rawPeer } from "../helpers/raw.js";
import { rssOf, serve } from "../helpers/serve.js";
import { startServer } from "../helpers/server.js";

const silent = pino({ level: "silent" });

async function config(t: any): Promise<ServerConfig> {
  const store = new KeyStore(path.join(await tempDir(t), "keys"));
  await store.create();
  return { ...DEFAULTS, keys: store.dir, bind: "127.0.0.1", port: await freePortBlock(4), state: null };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

test("with the server as configured, a bogus client key is refused on every port", async (t) => {
  const { server, config } = await startServer(t);
  const bogus = await generateKeyPair();
  for (const [offset, name] of PORT_NAMES.entries()) {
    const socket = rawPeer(config.port, offset, { serverPublicKey: server.publicKey, ...bogus });
    t.teardown(() => socket.close());
    t.is(await handshakeOutcome(socket), "auth", name);
  }
});

test("the server refuses to start when the ZAP handler cannot be bound, and listens on nothing", async (t) => {
  const serverConfig = await config(t);
  const context = new zmq.Context();
  const squatter = new zmq.Router({ context, linger: 0 });
  await squatter.bind(ZAP_ENDPOINT);
  t.teardown(() => squatter.close());
  await t.throwsAsync(Server.start(serverConfig, silent, { context }), { instanceOf: StartupError, message: /ZAP handler.*refusing to start/ });
  for (let offset = 0; offset < 4; offset++) t.false(await listening(serverConfig.port + offset));
});

test("the server refuses to run when libzmq has no CURVE", (t) => {
  t.throws(() => assertCurveAvailable({ curve: false }), { instanceOf: StartupError, message: /without CURVE/ });
  t.notThrows(() => assertCurveAvailable(zmq.capability));
});

test("every port has a message size limit just above a frame, a handshake limit and its own enforced ZAP domain", async (t) => {
  const { server } = await startServer(t, { limits: { ...DEFAULT_LIMITS, frame: 1234 }, handshakeIntervalMs: 2500 });
  for (const name of PORT_NAMES) {
    const socket = server.socketFor(name);
    t.is(socket.maxMessageSize, 1234 + CURVE_FRAME_OVERHEAD, name);
    t.is(socket.handshakeInterval, 2500, name);
    t.is(socket.zapDomain, name);
    t.true(socket.zapEnforceDomain);
    t.true(socket.curveServer);
  }
});

test("the server's sockets share one context: the configured I/O threads for the subscriber port, one more for the others", async (t) => {
  const { server } = await startServer(t, { ioThreads: 3 });
  const context = server.socketFor("command").context;
  t.is(context.ioThreads, 4);
  for (const name of PORT_NAMES) {
    const socket = server.socketFor(name);
    t.is(socket.context, context, name);
    t.is(socket.affinity, name === "subscriber" ? 0b0111 : 0b1000, name);
  }
});

test("every port queues a join burst's connections rather than libzmq's default 100", async (t) => {
  const { server } = await startServer(t);
  for (const name of PORT_NAMES) t.is(server.socketFor(name).backlog, LISTEN_BACKLOG, name);
});

test("a silent TCP peer is dropped after the handshake interval", async (t) => {
  const { config } = await startServer(t, { handshakeIntervalMs: 300 });
  const socket = net.connect({ host: "127.0.0.1", port: config.port });
  t.teardown(() => socket.destroy());
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    socket.on("data", () => {}); // the server's greeting
    socket.once("close", () => (clearTimeout(timer), resolve(true)));
  });
  t.true(closed);
});

/** A ZMTP 3.0 greeting that asks for CURVE as a client. */
test("a raw peer that sends a CURVE greeting and claims a 300 MB frame is dropped without the server's memory growing", async (t) => {
  const cwd = await tempDir(t);
  const port = await freePortBlock(4);
  await runCli(["init"], { cwd });
  const server = await serve(t, ["--no-state", "--bind", "127.0.0.1", "--port", String(port)], cwd);
  const before = await rssOf(server.child.pid!);
  const socket = net.connect({ host: "127.0.0.1", port });
  t.teardown(() => socket.destroy());
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    socket.once("close", () => (clearTimeout(timer), resolve(true)));
    socket.on("error", () => {});
  });
  socket.on("data", () => {});
  socket.write(curveGreeting());
  // A long command frame (flags 0x06) claiming 300 MB, then the start of its "body".
  const header = Buffer.alloc(9);
  header[0] = 0x06;
  header.writeBigUInt64BE(300n * 1024n * 1024n, 1);
  socket.write(header);
  socket.write(Buffer.alloc(1024 * 1024));
  t.true(await closed, "the server closed the connection");
  const after = await rssOf(server.child.pid!);
  t.true(after - before < 50 * 1024 * 1024, `RSS grew by ${((after - before) / 1e6).toFixed(1)} MB`);
  t.true(after > 0);
});
