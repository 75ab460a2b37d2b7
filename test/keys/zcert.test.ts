import test from "ava";
import { promises as fs } from "node:fs";
import path from "node:path";
import { formatCertificate, parseCertificate } from "../../src/keys/zcert.js";
import { fingerprint, generateKeyPair, looksLikeFingerprint, readIdentity } from "../../src/keys/index.js";
import { tempDir } from "../helpers/cli.js";

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
  t.is(parseCertificate('curve\n    public-key = "short"\n'), "its public-key (line 2) is not a 40-character Z85 key");
  t.is(parseCertificate("curve\n    nonsense here\n"), 'its line 2 is not "name = value"');
});

test("a malformed secret-key line is named by its number and never quoted", async (t) => {
  const dir = await tempDir(t);
  const pair = await generateKeyPair();
  const text = formatCertificate({ ...pair, metadata: { name: "alice" } });
  const lines = text.split("\n");
  const at = lines.findIndex((line) => line.includes("secret-key"));
  const broken = [
    `    secret-key = "${pair.secretKey}`, // the closing quote lost
    `    secret-key = "${pair.secretKey} "x"`,
    `    secret-key "${pair.secretKey}"`,
    `    secret-key = ${pair.secretKey} and more`,
    `    secret-key = "${pair.secretKey.slice(0, 39)}"`,
    `    secret-key = "${pair.secretKey}${pair.secretKey}"`,
  ];
  for (const line of broken) {
    const message = parseCertificate([...lines.slice(0, at), line, ...lines.slice(at + 1)].join("\n"));
    t.is(typeof message, "string", line);
    t.regex(message as string, new RegExp(`line ${at + 1}\\b`), line);
    // Not even a part of it: every 8 characters of the secret are looked for.
    for (let i = 0; i + 8 <= pair.secretKey.length; i++) t.false((message as string).includes(pair.secretKey.slice(i, i + 8)), line);
  }
  const file = path.join(dir, "alice.key_secret");
  await fs.writeFile(file, [...lines.slice(0, at), broken[3], ...lines.slice(at + 1)].join("\n"), { mode: 0o600 });
  const error = await t.throwsAsync(readIdentity(file));
  t.is(error.message, `${file} is not a certificate: its line ${at + 1} is not "name = value".`);
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
