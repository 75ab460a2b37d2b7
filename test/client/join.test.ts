import test from "ava";
import { startServer } from "../helpers/server.js";

// join() resolves only once every port has accepted the key: a port that never completes its
// handshake fails the join, named, instead of leaving the client half connected.
for (const port of ["publisher", "ttl"] as const) {
  test(`join fails, naming the ${port} port, when that port never completes its handshake`, async (t) => {
    const { server, client } = await startServer(t);
    server.socketFor(port).close(); // nothing listens there any more: no handshake can complete
    const alice = await client("alice", { client: { requestTimeoutMs: 1500 } });
    const error = await t.throwsAsync(alice.join());
    t.regex(error!.message, new RegExp(`the ${port} port did not complete its handshake within 1500 ms`));
  });
}

