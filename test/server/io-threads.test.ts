/**
 * Which libzmq I/O thread holds each of the server's connections, read from the
 * kernel: every I/O thread polls its connections with an epoll instance of its
 * own, and /proc lists the file descriptors each instance watches.
 */
import test from "ava";
import { promises as fs } from "node:fs";
import * as zmq from "zeromq";
import { ioThreadAffinity } from "../../src/server/sockets.js";
import { PORT_NAMES } from "../helpers/raw.js";
import { startServer } from "../helpers/server.js";

const TCP_ESTABLISHED = "01";

/** Socket inode → local port, for established TCP connections over IPv4. */
async function establishedPorts(): Promise<Map<string, number>> {
  const ports = new Map<string, number>();
  for (const line of (await fs.readFile("/proc/net/tcp", "utf8")).split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, state, inode] = [fields[1], fields[3], fields[9]];
    if (!local || state !== TCP_ESTABLISHED || !inode) continue;
    ports.set(inode, parseInt(local.split(":")[1]!, 16));
  }
  return ports;
}

/** For each epoll instance of this process, the local ports of the established connections it watches. */
async function portsByPoller(): Promise<number[][]> {
  const ports = await establishedPorts();
  const fds = await fs.readdir("/proc/self/fd");
  const targets = new Map<string, string>();
  await Promise.all(fds.map(async (fd) => targets.set(fd, await fs.readlink(`/proc/self/fd/${fd}`).catch(() => ""))));
  const pollers: number[][] = [];
  for (const [fd, target] of targets) {
    if (target !== "anon_inode:[eventpoll]") continue;
    const info = await fs.readFile(`/proc/self/fdinfo/${fd}`, "utf8").catch(() => "");
    const watched = [...info.matchAll(/^tfd:\s+(\d+)/gm)].map((match) => targets.get(match[1]!) ?? "");
    pollers.push(watched.map((socket) => ports.get(/^socket:\[(\d+)\]$/.exec(socket)?.[1] ?? "") ?? -1).filter((port) => port >= 0));
  }
  return pollers;
}

test("subscriber connections are spread evenly over the subscriber port's I/O threads, apart from the other ports'", async (t) => {
  const ioThreads = 2;
  const { server, config, joined } = await startServer(t, { ioThreads });
  const users = 7;
  for (let i = 0; i < users; i++) await joined(`user${i}`);

  // Only the server's own connections have one of its ports as their local port.
  const serverSide = (await portsByPoller())
    .map((ports) => ports.filter((port) => port >= config.port && port < config.port + PORT_NAMES.length))
    .filter((ports) => ports.length > 0);
  const subscriberPort = config.port + 1;
  const subscribers = serverSide.filter((ports) => ports.includes(subscriberPort));
  const others = serverSide.filter((ports) => ports.some((port) => port !== subscriberPort));

  t.is(subscribers.length, ioThreads, "every subscriber thread holds subscribers");
  const counts = subscribers.map((ports) => ports.filter((port) => port === subscriberPort).length);
  t.is(counts.reduce((a, b) => a + b, 0), users);
  t.true(Math.max(...counts) - Math.min(...counts) <= 1, `subscribers per thread: ${counts.join(", ")}`);
  t.is(others.length, 1, "the command, publisher and ttl connections share one thread");
  t.false(others[0]!.includes(subscriberPort), "and it holds no subscriber");
  t.is(others[0]!.length, users * 3);
  t.is(server.socketFor("subscriber").context.ioThreads, ioThreads + 1);
});

test("with one I/O thread in all, every port uses it", (t) => {
  const context = new zmq.Context({ ioThreads: 1 });
  for (const name of PORT_NAMES) t.is(ioThreadAffinity(context, name), 0, name);
});
