/**
 * npm run bench [-- --quick]: curvehost against a minimal zeromq.js relay with the
 * same CURVE keys, measured in the same run, every figure also given as a ratio
 * to that baseline. Servers and receivers run in child processes of their own.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { Client } from "../../src/client/index.js";
import { SendQueue } from "../../src/transport/send-queue.js";
import { KeyStore, generateKeyPair, type KeyPair } from "../../src/keys/index.js";
import type { ReceiverJob, ReceiverReport } from "./receiver.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "../../src/cli/main.js");
const quick = process.argv.includes("--quick");
const now = () => performance.timeOrigin + performance.now();
const WINDOW = 64;

type Mode = "curvehost" | "baseline";
interface Row {
  bench: string;
  params: string;
  unit: string;
  curvehost: number;
  baseline: number | null;
  note?: string;
}
const rows: Row[] = [];

async function freeBase(): Promise<number> {
  const net = await import("node:net");
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
  for (;;) {
    const base = 10_000 + Math.floor(Math.random() * 22_000); // below the ephemeral range
    if ((await free(base)) && (await free(base + 1)) && (await free(base + 2)) && (await free(base + 3))) return base;
  }
}

interface Running {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(mode: Mode, store: KeyStore, extra: string[] = []): Promise<Running> {
  const port = await freeBase();
  let child: ChildProcess;
  if (mode === "curvehost") {
    const args = ["serve", "--keys", store.dir, "--open", "--bind", "127.0.0.1", "--port", String(port), "--max-users", "512", "--timeout", "30000", ...(extra.length ? extra : ["--no-state"])];
    child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let err = "";
      child.stderr!.on("data", (chunk: Buffer) => ((err += chunk), err.includes("Forward these TCP ports") && resolve()));
      child.on("exit", (code) => reject(new Error(`curvehost exited ${code}: ${err}`)));
    });
  } else {
    child = fork(path.join(here, "relay.js"), [String(port), (await store.serverKeys()).secretKey], { stdio: "ignore" });
    await new Promise<void>((resolve) => child.once("message", () => resolve()));
  }
  return {
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

/** The writer: one client, WINDOW messages in flight, each acknowledged by its own copy coming back. */
interface Writer {
  send(payload: Buffer): Promise<void>;
  close(): void;
}

async function writer(mode: Mode, port: number, serverPublicKey: string, keys: KeyPair): Promise<Writer> {
  if (mode === "curvehost") {
    const client = new Client({ host: "127.0.0.1", port, serverPublicKey, ...keys, requestTimeoutMs: 60_000, lostTimeoutMs: 120_000 });
    client.connect();
    await client.join();
    await client.sync();
    let n = 0;
    return { send: async (payload) => void (await client.commit(`w${n++ % 1000}`, payload)), close: () => client.close() };
  }
  const secure = { curveServerKey: serverPublicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0 };
  const sub = new zmq.Subscriber({ ...secure, receiveHighWaterMark: 0 });
  const connected = new Promise<void>((resolve) => sub.events.on("handshake", () => resolve()));
  sub.subscribe();
  sub.connect(`tcp://127.0.0.1:${port + 1}`);
  await connected;
  const dealer = new zmq.Dealer(secure);
  dealer.connect(`tcp://127.0.0.1:${port + 2}`);
  const out = new SendQueue(dealer);
  const waiting: Array<() => void> = [];
  void (async () => {
    for await (const _ of sub) waiting.shift()?.();
  })().catch(() => {});
  return {
    send: (payload) =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        void out.send([payload]);
      }),
    close: () => (sub.close(), dealer.close()),
  };
}

/** Sends `count` payloads of `size` bytes, WINDOW at a time, or at `rate` a second; returns seconds taken. */
async function drive(w: Writer, count: number, size: number, rate?: number): Promise<number> {
  const started = now();
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      if (rate) {
        const due = started + (i * 1000) / rate;
        const wait = due - now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const payload = Buffer.alloc(size);
      payload.writeDoubleLE(now(), 0);
      await w.send(payload);
    }
  };
  await Promise.all(Array.from({ length: rate ? 16 : WINDOW }, one));
  return (now() - started) / 1000;
}

async function receivers(mode: Mode, port: number, serverPublicKey: string, keys: KeyPair[]) {
  const groups = [keys.filter((_, i) => i % 2 === 0), keys.filter((_, i) => i % 2 === 1)].filter((g) => g.length > 0);
  const workers = groups.map((group) =>
    fork(path.join(here, "receiver.js"), [JSON.stringify({ mode, port, serverPublicKey, keys: group } satisfies ReceiverJob)], { stdio: "inherit" }),
  );
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("message", resolve))));
  const report = async (): Promise<ReceiverReport> => {
    const parts = await Promise.all(
      workers.map((worker) => new Promise<ReceiverReport>((resolve) => (worker.once("message", (m) => resolve(m as ReceiverReport)), worker.send("report")))),
    );
    return { received: parts.flatMap((p) => p.received), latencies: parts.flatMap((p) => p.latencies) };
  };
  return {
    /** Waits (at most 5 s) for every receiver to hold `expected`, then reports. */
    async collect(expected: number): Promise<{ received: number; latencies: number[] }> {
      const deadline = Date.now() + 5000;
      let received = 0;
      const latencies: number[] = [];
      for (;;) {
        const part = await report();
        received += part.received.reduce((a, b) => a + b, 0);
        latencies.push(...part.latencies);
        if (received >= expected * keys.length || Date.now() > deadline) return { received, latencies };
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close: () => Promise.all(workers.map((worker) => (worker.send("close"), new Promise((resolve) => worker.once("exit", resolve))))),
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function fanout(store: KeyStore, keys: KeyPair[], mode: Mode, n: number, size: number, count: number) {
  const server = await startServer(mode, store);
  const serverKey = await store.serverPublicKey();
  const rx = await receivers(mode, server.port, serverKey, keys.slice(1, n + 1));
  const w = await writer(mode, server.port, serverKey, keys[0]!);
  const seconds = await drive(w, count, size);
  const { received, latencies } = await rx.collect(count);
  w.close();
  await rx.close();
  await server.stop();
  return { perReceiver: count / seconds, total: (count * n) / seconds, losses: count * n - received, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) };
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "curvehost-bench-"));
  const store = new KeyStore(path.join(dir, "keys"));
  await store.create();
  const keys: KeyPair[] = [];
  for (let i = 0; i < 65; i++) {
    const pair = await generateKeyPair();
    await store.allow(`u${i}`, pair.publicKey, { role: i === 0 ? "admin" : "member", expires: null });
    keys.push(pair);
  }
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(`curvehost bench${quick ? " (quick)" : ""} on ${os.cpus().length} × ${cpu}, Node ${process.version}\n`);

  const receiverCounts = quick ? [1, 8] : [1, 8, 32, 64];
  const sizes: Array<[string, number]> = quick ? [["1 KiB", 1024], ["64 KiB", 65536]] : [["100 B", 100], ["1 KiB", 1024], ["64 KiB", 65536]];
  for (const [label, size] of sizes) {
    for (const n of receiverCounts) {
      const count = Math.max(200, Math.round((quick ? 4000 : 20000) / Math.max(1, n / 4) / (size > 4096 ? 8 : 1)));
      const ours = await fanout(store, keys, "curvehost", n, size, count);
      const base = await fanout(store, keys, "baseline", n, size, count);
      const params = `${n} rx, ${label}`;
      rows.push({ bench: "fan-out", params, unit: "msg/s per receiver", curvehost: ours.perReceiver, baseline: base.perReceiver, note: `losses ${ours.losses}/${base.losses}` });
      rows.push({ bench: "fan-out latency p50", params, unit: "ms", curvehost: ours.p50, baseline: base.p50 });
      rows.push({ bench: "fan-out latency p99", params, unit: "ms", curvehost: ours.p99, baseline: base.p99, note: `max ${ours.max.toFixed(1)}/${base.max.toFixed(1)}` });
      print(rows.slice(-3));
    }
  }

  // Commit throughput by fsync mode, as a ratio to --no-state in the same run.
  const commits = quick ? 3000 : 20000;
  const measureCommits = async (extra: string[]) => {
    const server = await startServer("curvehost", store, extra);
    const w = await writer("curvehost", server.port, await store.serverPublicKey(), keys[0]!);
    const seconds = await drive(w, commits, 1024);
    w.close();
    await server.stop();
    return commits / seconds;
  };
  const ephemeral = await measureCommits(["--no-state"]);
  for (const mode of ["never", "batch", "always"]) {
    const stateDir = await fs.mkdtemp(path.join(dir, "state-"));
    const rate = await measureCommits(["--state", stateDir, "--fsync", mode]);
    rows.push({ bench: "commits, journal", params: `--fsync ${mode}, 1 KiB`, unit: "commits/s", curvehost: rate, baseline: ephemeral, note: "baseline: --no-state" });
    print(rows.slice(-1));
  }

  // Join: a session of many 10 KiB nodes; time for a new client to hold it all.
  const nodes = quick ? 1000 : 10000;
  {
    const server = await startServer("curvehost", store);
    const serverKey = await store.serverPublicKey();
    const committer = new Client({ host: "127.0.0.1", port: server.port, serverPublicKey: serverKey, ...keys[1]!, requestTimeoutMs: 60_000, lostTimeoutMs: 120_000 });
    committer.connect();
    await committer.join();
    await committer.sync();
    let next = 0;
    await Promise.all(Array.from({ length: WINDOW }, async () => {
      while (next < nodes) await committer.commit(`node-${next++}`, Buffer.alloc(10 * 1024, next % 251));
    }));
    const joiner = new Client({ host: "127.0.0.1", port: server.port, serverPublicKey: serverKey, ...keys[2]!, requestTimeoutMs: 60_000, lostTimeoutMs: 120_000 });
    const started = now();
    joiner.connect();
    await joiner.join();
    await joiner.sync();
    const seconds = (now() - started) / 1000;
    const held = joiner.replica.nodes.size;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(await fs.readFile(`/proc/${server.child.pid}/status`, "utf8"))![1]) * 1024;
    joiner.close();
    committer.close();
    await server.stop();
    // Baseline: the same bytes through the relay to one subscriber.
    const relay = await startServer("baseline", store);
    const rx = await receivers("baseline", relay.port, serverKey, [keys[3]!]);
    const bw = await writer("baseline", relay.port, serverKey, keys[0]!);
    const baseSeconds = await drive(bw, nodes, 10 * 1024);
    await rx.collect(nodes);
    bw.close();
    await rx.close();
    await relay.stop();
    const mb = (nodes * 10 * 1024) / 1e6;
    rows.push({ bench: "join", params: `${nodes} nodes of 10 KiB (${mb.toFixed(0)} MB)`, unit: "s to hold it all", curvehost: seconds, baseline: baseSeconds, note: `held ${held} nodes; baseline: same bytes relayed` });
    rows.push({ bench: "memory", params: `server RSS, ${mb.toFixed(0)} MB session`, unit: "× session size", curvehost: rss / (nodes * 10 * 1024), baseline: null });
    print(rows.slice(-2));
  }

  // Handshakes: a burst of clients joining at once.
  {
    const burst = quick ? 50 : 200;
    const burstKeys: KeyPair[] = [];
    for (let i = 0; i < burst; i++) {
      const pair = await generateKeyPair();
      await store.allow(`b${i}`, pair.publicKey, { role: "member", expires: null });
      burstKeys.push(pair);
    }
    const server = await startServer("curvehost", store);
    const serverKey = await store.serverPublicKey();
    const started = now();
    const clients = burstKeys.map((pair) => new Client({ host: "127.0.0.1", port: server.port, serverPublicKey: serverKey, ...pair, requestTimeoutMs: 60_000, lostTimeoutMs: 120_000 }));
    await Promise.all(clients.map(async (client) => (client.connect(), await client.join())));
    const seconds = (now() - started) / 1000;
    for (const client of clients) client.close();
    await server.stop();
    const relay = await startServer("baseline", store);
    const baseStarted = now();
    const sockets = burstKeys.map((pair) => new zmq.Dealer({ curveServerKey: serverKey, curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey, linger: 0 }));
    await Promise.all(sockets.map((socket) => {
      const done = new Promise<void>((resolve) => socket.events.on("handshake", () => resolve()));
      socket.connect(`tcp://127.0.0.1:${relay.port + 2}`);
      return done;
    }));
    const baseSeconds = (now() - baseStarted) / 1000;
    for (const socket of sockets) socket.close();
    await relay.stop();
    rows.push({ bench: "handshakes", params: `burst of ${burst}`, unit: "joins/s", curvehost: burst / seconds, baseline: burst / baseSeconds, note: "baseline: CURVE handshake only; curvehost: 4 handshakes + join" });
    print(rows.slice(-1));
  }

  const out = path.resolve("bench-results.json");
  await fs.writeFile(out, JSON.stringify({ date: new Date().toISOString(), quick, machine: `${os.cpus().length} × ${cpu}`, node: process.version, rows }, null, 2));
  console.log(`\n${table(rows)}\n\nWrote ${out}`);
  await fs.rm(dir, { recursive: true, force: true });
  process.exit(0);
}

function fmt(value: number | null): string {
  if (value === null || Number.isNaN(value)) return "-";
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
}

function table(list: Row[]): string {
  const lines = ["| bench | params | unit | curvehost | baseline | ratio | note |", "|---|---|---|---|---|---|---|"];
  for (const row of list)
    lines.push(`| ${row.bench} | ${row.params} | ${row.unit} | ${fmt(row.curvehost)} | ${fmt(row.baseline)} | ${row.baseline ? fmt(row.curvehost / row.baseline) : "-"} | ${row.note ?? ""} |`);
  return lines.join("\n");
}

function print(list: Row[]): void {
  for (const row of list) console.log(`${row.bench.padEnd(22)} ${row.params.padEnd(34)} ${fmt(row.curvehost).padStart(9)} vs ${fmt(row.baseline).padStart(9)} ${row.unit}${row.note ? `  (${row.note})` : ""}`);
}

await main();
