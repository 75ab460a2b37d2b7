import test from "ava";
import path from "node:path";
import * as zmq from "zeromq";
import { readInvite } from "../../src/keys/index.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { runPython } from "../helpers/python.js";

const LOAD_CERTIFICATES = `
import json, sys, zmq.auth
keys = sys.argv[1]
server_public, server_secret = zmq.auth.load_certificate(keys + "/server.key_secret")
public_only, none = zmq.auth.load_certificate(keys + "/server.key")
allowed = zmq.auth.load_certificates(keys + "/allowed")
print(json.dumps({
  "server_public": server_public.decode(), "server_secret": server_secret.decode(),
  "public_only": public_only.decode(), "no_secret": none is None,
  "allowed": sorted(k.decode() for k in allowed),
}))
`;

test("pyzmq's zmq.auth reads our certificates as they are", async (t) => {
  const cwd = await tempDir(t);
  await runCli(["init"], { cwd });
  await runCli(["invite", "alice", "--host", "127.0.0.1"], { cwd });
  const keys = path.join(cwd, "keys");
  const result = await runPython(LOAD_CERTIFICATES, [keys]);
  t.is(result.code, 0, result.stderr);
  const read = JSON.parse(result.stdout);
  const alice = await readInvite(path.join(keys, "invites", "alice.invite"));
  const host = await readInvite(path.join(keys, "invites", "host.invite"));
  t.is(read.server_public, alice.server.publicKey);
  t.is(read.public_only, alice.server.publicKey);
  t.true(read.no_secret);
  t.is(read.server_secret.length, 40);
  t.deepEqual(read.allowed, [alice.client.publicKey, host.client.publicKey].sort());
});

const PYZMQ_CLIENT = `
import json, sys, zmq
invite = json.load(open(sys.argv[1]))
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.curve_publickey = invite["client"]["publicKey"].encode()
s.curve_secretkey = invite["client"]["secretKey"].encode()
s.curve_serverkey = invite["server"]["publicKey"].encode()
s.rcvtimeo = 10000
s.linger = 0
s.connect("tcp://127.0.0.1:%d" % invite["server"]["port"])
s.send(b"hello from pyzmq")
print(s.recv().decode())
`;

test("a pyzmq CURVE client using our invite completes a handshake with a zeromq.js server using our secret", async (t) => {
  const cwd = await tempDir(t);
  const port = await freePortBlock(1);
  await runCli(["init"], { cwd });
  await runCli(["invite", "alice", "--host", "127.0.0.1", "--port", String(port)], { cwd });
  const keys = path.join(cwd, "keys");
  const secret = (await runPython(LOAD_CERTIFICATES, [keys])).stdout;
  const server = new zmq.Router({ curveServer: true, curveSecretKey: JSON.parse(secret).server_secret, linger: 0 });
  t.teardown(() => server.close());
  await server.bind(`tcp://127.0.0.1:${port}`);
  const echo = (async () => {
    const [id, body] = await server.receive();
    await server.send([id!, Buffer.concat([Buffer.from("server got: "), body!])]);
  })();
  const result = await runPython(PYZMQ_CLIENT, [path.join(keys, "invites", "alice.invite")]);
  await echo;
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout.trim(), "server got: hello from pyzmq");
});
