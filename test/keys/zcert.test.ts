import test from "ava";
import { formatCertificate, parseCertificate } from "../../src/keys/zcert.js";
import { fingerprint, generateKeyPair, looksLikeFingerprint } from "../../src/keys/index.js";

test("a certificate round-trips with its metadata, public or secret", async (t) => {
  const pair = await generateKeyPair();
  const metadata = { name: "alice", role: "member", created: "2026-11-24T00:00:00.000Z" };
  t.deepEqual(parseCertificate(formatCertificate({ publicKey: pair.publicKey, metadata })), { publicKey: pair.publicKey, metadata });
  t.deepEqual(parseCertificate(formatCertificate({ ...pair, metadata })), { ...pair, metadata });
});

test("the written text has czmq's sections and quoted keys", async (t) => {
  const pair = await generateKeyPair();
  const text = formatCertificate({ publicKey: pair.publicKey, metadata: { name: "a" } });
  t.regex(text, /^metadata\n {4}name = "a"\ncurve\n {4}public-key = "[^"]{40}"\n$/m);
  t.notRegex(text, /secret-key/);
});

test("a malformed certificate is described, not thrown", (t) => {
  t.is(parseCertificate(""), "it has no curve public-key");
  t.is(parseCertificate('curve\n    public-key = "short"\n'), "its public-key is not a 40-character Z85 key");
  t.regex(parseCertificate("curve\n    nonsense here\n") as string, /not "name = value"/);
});

test("metadata that could break out of its line is refused", async (t) => {
  const pair = await generateKeyPair();
  t.throws(() => formatCertificate({ publicKey: pair.publicKey, metadata: { name: 'a"\n    public-key = "x' } }));
});

test("fingerprints are SHA256: and 43 characters of base64, stable per key", async (t) => {
  const pair = await generateKeyPair();
  const print = fingerprint(pair.publicKey);
  t.true(looksLikeFingerprint(print));
  t.is(fingerprint(pair.publicKey), print);
  t.not(fingerprint((await generateKeyPair()).publicKey), print);
});
