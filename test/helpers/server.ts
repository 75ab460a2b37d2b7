/**
 * A real server on 127.0.0.1 with a temporary key store, for tests: free ports,
 * logs captured as objects, and everything closed when the test ends.
 */
import type { ExecutionContext } from "ava";
import path from "node:path";
import pino from "pino";
import { Client, type ClientOptions } from "../../src/client/index.js";
import { KeyStore, generateKeyPair, type KeyPair, type Role } from "../../src/keys/index.js";
import { DEFAULTS, type ServerConfig } from "../../src/server/config.js";
import { Server } from "../../src/server/server.js";
import { tempDir } from "./cli.js";
import { freePortBlock } from "./ports.js";

export interface TestServer {
  server: Server;
  config: ServerConfig;
  store: KeyStore;
  logs: Array<Record<string, any>>;
  /** Allows a new key under `name` and returns it. */
  allow(name: string, role?: Role): Promise<KeyPair>;
  /** A client for `name` (allowed first if `keys` is not given), connected to the command port. */
  client(name: string, options?: { role?: Role; keys?: KeyPair; client?: Partial<ClientOptions> }): Promise<Client>;
  /** A client that has joined and synced. */
  joined(name: string, role?: Role): Promise<Client>;
}

export async function startServer(t: ExecutionContext, overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  // A restart test passes the first server's key store; otherwise each server gets a new one.
  const store = new KeyStore(overrides.keys ?? path.join(await tempDir(t), "keys"));
  if (!overrides.keys) await store.create();
  const logs: Array<Record<string, any>> = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const configure = async (): Promise<ServerConfig> => ({
    ...DEFAULTS,
    keys: store.dir,
    bind: "127.0.0.1",
    port: await freePortBlock(4),
    initialState: "open",
    state: null,
    ...overrides,
  });
  // Another test may take a port between the check and the bind: try another block.
  let config = await configure();
  let server: Server | undefined;
  for (let attempt = 1; !server; attempt++) {
    try {
      server = await Server.start(config, log);
    } catch (error) {
      if (attempt >= 5 || !/already in use/.test((error as Error).message)) throw error;
      config = await configure();
    }
  }
  t.teardown(() => server.stop());
  const allow = async (name: string, role: Role = "member") => {
    const keys = await generateKeyPair();
    await store.allow(name, keys.publicKey, { role, expires: null });
    // The server's watcher polls the store; wait for the reload that admits the key.
    if (!server.allows(keys.publicKey)) await nextEvent(server, "allowlist", () => server.allows(keys.publicKey), 3000);
    return keys;
  };
  const client = async (name: string, options: { role?: Role; keys?: KeyPair; client?: Partial<ClientOptions> } = {}) => {
    const keys = options.keys ?? (await allow(name, options.role));
    const client = new Client({
      host: "127.0.0.1",
      port: config.port,
      serverPublicKey: server.publicKey,
      ...keys,
      requestTimeoutMs: 5000,
      ...options.client,
    });
    t.teardown(() => client.close());
    client.connect();
    return client;
  };
  const joined = async (name: string, role: Role = "member") => {
    const c = await client(name, { role });
    await c.join();
    await c.sync();
    return c;
  };
  return { server, config, store, logs, allow, client, joined };
}

/** Resolves with the first event the emitter emits that matches, or rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[]>(
  emitter: { on(name: string, fn: (...args: any[]) => void): unknown; off(name: string, fn: (...args: any[]) => void): unknown },
  name: string,
  match: (...args: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, listener);
      reject(new Error(`no matching "${name}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: any[]) => {
      if (!match(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve(args as T);
    };
    emitter.on(name, listener);
  });
}

export { DEFAULTS };

/** Matches a client's "event" for a commit that holds node `id`. */
export function committed(id: string): (event: any) => boolean {
  return (event) => event?.type === "commit" && event.nodes.some((node: { id: string }) => node.id === id);
}
