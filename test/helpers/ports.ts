/** Free TCP ports on 127.0.0.1, so tests can run side by side. */
import net from "node:net";

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A base port P such that P..P+count-1 are all free right now. Chosen below
 * Linux's ephemeral range (32768 and up), where outgoing connections take their
 * ports, so that no client of a parallel test can take one in the meantime.
 */
export async function freePortBlock(count = 4): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 22_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await isFree(base + i);
    if (free) return base;
  }
  throw new Error(`no block of ${count} free ports found`);
}
