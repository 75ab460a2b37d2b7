/**
 * The baseline: the least a CURVE relay can do on zeromq.js. A ROUTER takes
 * messages in on P+2 and a PUB sends them out on P+1, with the same server keys
 * as curvehost, and no protocol, checks, ZAP or journal.
 * Run as: node relay.js PORT SECRET_KEY
 */
import * as zmq from "zeromq";

const [port, secretKey] = process.argv.slice(2);
const secure = { curveServer: true, curveSecretKey: secretKey!, linger: 0 };
const router = new zmq.Router(secure);
const publisher = new zmq.Publisher({ ...secure, sendHighWaterMark: 10_000 });
await publisher.bind(`tcp://127.0.0.1:${Number(port) + 1}`);
await router.bind(`tcp://127.0.0.1:${Number(port) + 2}`);
process.send?.("ready");
for await (const [, ...frames] of router) await publisher.send(frames);
