/**
 * Connecting from Blender fails with the sentence an artist can act on, and
 * leaves the open file as it was: a key the host did not allow, an invite with
 * another server's key, a server that is not there.
 */
import test from "ava";
import path from "node:path";
import { fingerprint, generateKeyPair, writeInvite, type KeyPair } from "../../src/keys/index.js";
import { tempDir } from "../helpers/cli.js";
import { freePortBlock } from "../helpers/ports.js";
import { startServer } from "../helpers/server.js";
import { Blender, requireBlender } from "./blender-driver.js";

test("a refused key, a wrong server key and an absent server are said in words, and the file is kept", async (t) => {
  requireBlender();
  t.timeout(120_000);
  const { server, config, allow } = await startServer(t);
  const dir = await tempDir(t);
  const blender = new Blender("dora");
  t.teardown(() => blender.kill());
  const invite = async (file: string, client: KeyPair, port: number, serverKey: string) => {
    await writeInvite(path.join(dir, file), {
      name: "dora",
      role: "member",
      server: { host: "127.0.0.1", port, publicKey: serverKey, fingerprint: fingerprint(serverKey) },
      client,
    });
    return path.join(dir, file);
  };
  const connecting = (file: string) => blender.run(`import curvehost_blender\ncurvehost_blender.connect(${JSON.stringify(file)}, timeout=2)`);

  const stranger = await invite("stranger.invite", await generateKeyPair(), config.port, server.publicKey);
  await t.throwsAsync(connecting(stranger), { message: /The server refused your key: it is not allowed/ });

  const otherServer = (await generateKeyPair()).publicKey;
  const wrongServer = await invite("wrong-server.invite", await allow("dora"), config.port, otherServer);
  await t.throwsAsync(connecting(wrongServer), { message: /did not complete: the server key in the invite is probably wrong/ });

  const nowhere = await invite("nowhere.invite", await generateKeyPair(), await freePortBlock(4), server.publicKey);
  await t.throwsAsync(connecting(nowhere), { message: /Cannot reach 127\.0\.0\.1:\d+: is the server running/ });

  t.deepEqual(await blender.run("result = sorted(o.name for o in bpy.data.objects)"), ["Camera", "Cube", "Light"], "the open file is untouched");
});
