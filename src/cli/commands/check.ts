import net from "node:net";
import type { CommandModule } from "yargs";
import * as zmq from "zeromq";
import { Client, ServerError } from "../../client/index.js";
import { fingerprint, readInvite } from "../../keys/index.js";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import { PORTS } from "../../server/config.js";
import { clientKeys } from "../identity.js";
import { identityOption } from "../options.js";
import { say } from "../print.js";
import { printable } from "../printable.js";

interface Args {
  invite: string;
  identity: string | undefined;
  timeout: number;
}

const ok = (line: string) => say(`ok    ${line}`);
const bad = (line: string) => say(`FAIL  ${line}`);

function tcpReachable(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (problem: string | null) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => finish("no answer (a firewall or a port not forwarded?)"));
    socket.once("connect", () => finish(null));
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish(error.code === "ECONNREFUSED" ? "connection refused (is the server running, is the port forwarded?)" : error.message),
    );
  });
}

/** How a CURVE handshake with the command port ends: in words a collaborator can act on. */
function handshake(host: string, port: number, keys: { serverPublicKey: string; publicKey: string; secretKey: string }, timeoutMs: number): Promise<string | null> {
  const socket = new zmq.Dealer({ curveServerKey: keys.serverPublicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0 });
  return new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve("the handshake did not complete: the server key in the invite is probably wrong (or the server is not curvehost)"), timeoutMs);
    const done = (problem: string | null) => {
      clearTimeout(timer);
      resolve(problem);
    };
    socket.events.on("handshake", () => done(null));
    socket.events.on("handshake:error:auth", () => done("the server refused your key: it is not allowed, expired or revoked; ask the host"));
    socket.events.on("handshake:error:protocol", () => done("the handshake failed: the server key in the invite does not match the server"));
    socket.connect(`tcp://${host}:${port}`);
  }).finally(() => socket.close());
}

export const checkCommand: CommandModule<object, Args> = {
  command: "check <invite>",
  describe: "test an invite: each port, the CURVE handshake, the join, and the round trip",
  builder: (yargs) =>
    yargs
      .positional("invite", { type: "string", demandOption: true, normalize: true })
      .option("identity", identityOption)
      .option("timeout", { type: "number", default: 3000, describe: "ms to wait at each step" }),
  handler: async (args) => {
    const invite = await readInvite(args.invite);
    const keys = await clientKeys(invite, args.identity);
    const { host, port, publicKey } = invite.server;
    say(`Checking ${invite.name} at ${host}:${port}-${port + 3}, server ${fingerprint(publicKey)}`);
    let failures = 0;
    for (const [offset, name] of PORTS.entries()) {
      const problem = await tcpReachable(host, port + offset, args.timeout);
      if (problem) (failures++, bad(`port ${port + offset} (${name}): ${problem}`));
      else ok(`port ${port + offset} (${name}) is reachable`);
    }
    if (failures > 0) return report(failures);

    const problem = await handshake(host, port, { serverPublicKey: publicKey, ...keys }, args.timeout);
    if (problem) {
      bad(problem);
      return report(1);
    }
    ok("CURVE handshake: the server is who the invite says, and it accepts your key");

    const client = new Client({ host, port, serverPublicKey: publicKey, ...keys, requestTimeoutMs: args.timeout });
    try {
      client.connect();
      const started = process.hrtime.bigint();
      const hello = await client.hello();
      const roundTrip = Number(process.hrtime.bigint() - started) / 1e6;
      ok(`server ${printable(hello.server)} ${printable(hello.version)}, session "${printable(hello.session)}" (${hello.state}, ${hello.users} users), protocol ${PROTOCOL_VERSION}; round trip ${roundTrip.toFixed(1)} ms`);
      const welcome = await client.join();
      ok(`joined as ${printable(welcome.user)} (${welcome.role}); the subscriber, publisher and ttl ports accept your key`);
      await client.leave();
    } catch (error) {
      const reason =
        error instanceof ServerError && error.code === "protocol_mismatch" ? error.message
        : error instanceof ServerError ? `the server refused: ${printable(error.message)} (${printable(error.code)})`
        : (error as Error).message;
      bad(reason);
      return report(1);
    } finally {
      client.close();
    }
    say("All good: you can connect.");
  },
};

function report(count: number): void {
  say(`${count} problem${count === 1 ? "" : "s"} found.`);
  process.exitCode = 1;
}
