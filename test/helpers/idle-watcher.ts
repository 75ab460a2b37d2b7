/**
 * A process that runs only an AllowlistWatcher, with its defaults, over a new store of N keys
 * (argv[2]): for the test that an idle watcher costs no CPU. Prints "ready" once it watches; ends,
 * removing the store, when its stdin closes.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AllowlistWatcher, KeyStore, generateKeyPair } from "../../src/keys/index.js";
import { formatCertificate } from "../../src/keys/zcert.js";

const count = Number(process.argv[2]);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "curvehost-idle-"));
const store = new KeyStore(path.join(dir, "keys"));
await store.create();
for (let i = 0; i < count; i++) {
  const { publicKey } = await generateKeyPair();
  const metadata = { name: `user${i}`, role: "member", created: new Date().toISOString() };
  await fs.writeFile(path.join(store.allowedDir, `user${i}.key`), formatCertificate({ publicKey, metadata }));
}
const watcher = new AllowlistWatcher(store, { onChange: () => {}, onWarning: (message) => process.stderr.write(`${message}\n`) });
const allowlist = await watcher.start();
process.stdout.write(`ready ${allowlist.entries().length}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  watcher.stop();
  void fs.rm(dir, { recursive: true, force: true }).then(() => process.exit(0));
});
