import test from "ava";
import * as zmq from "zeromq";
import { isZ85Key, publicKeyOf, z85Decode, z85Encode } from "../../src/keys/index.js";

test("Z85 matches the test vector of ZeroMQ RFC 32", (t) => {
  const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  t.is(z85Encode(bytes), "HelloWorld");
  t.deepEqual(z85Decode("HelloWorld"), bytes);
});

test("Z85 round-trips random keys and refuses what is not Z85", (t) => {
  for (let i = 0; i < 200; i++) {
    const bytes = Uint8Array.from({ length: 32 }, () => Math.floor(Math.random() * 256));
    t.deepEqual(z85Decode(z85Encode(bytes)), bytes);
  }
  t.is(z85Decode("Hell"), null, "not a multiple of five");
  t.is(z85Decode("Hell~"), null, "foreign character");
  t.is(z85Decode("#####"), null, "a group over 2^32");
  t.false(isZ85Key("HelloWorld"));
  t.false(isZ85Key(42));
});

test("keys derived with libsodium agree with libzmq's own keypairs", async (t) => {
  for (let i = 0; i < 20; i++) {
    const pair = zmq.curveKeyPair();
    t.true(isZ85Key(pair.publicKey));
    t.is(await publicKeyOf(pair.secretKey), pair.publicKey);
  }
});
