/**
 * The ttl port: a ping to every joined user each interval, the user's latency
 * from its pong, and the removal of a user silent for longer than the timeout.
 * Also where time-based checks live (a key that expires while its user is joined).
 */
import { encode, decodeRequest } from "../protocol/index.js";
import type { ServerContext } from "./context.js";

export class Pinger {
  private timer: NodeJS.Timeout | undefined;
  private n = 0;
  /** When ping number n was sent. */
  private readonly sentAt = new Map<number, number>();

  constructor(private readonly context: ServerContext) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.context.config.pingIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  handlePong(routingId: Buffer, frames: Buffer[]): void {
    const user = this.context.users.byRoutingId(routingId);
    if (!user) return; // a routing id no join has bound gets nothing, not even an error
    const decoded = decodeRequest("ttl", frames);
    if (!decoded.ok) return;
    const now = Date.now();
    user.lastPong = now;
    const sent = this.sentAt.get(decoded.request.n);
    if (sent !== undefined) user.latency = now - sent;
  }

  private tick(): void {
    const now = Date.now();
    const allowlist = this.context.allowlist();
    for (const user of this.context.users.all()) {
      if (now - user.lastPong > this.context.config.timeoutMs) {
        this.context.remove(user, "lost");
        continue;
      }
      if (allowlist.status(user.publicKey, now).state === "expired") {
        this.context.remove(user, "expired");
        continue;
      }
    }
    this.n += 1;
    this.sentAt.set(this.n, now);
    this.sentAt.delete(this.n - Math.ceil(this.context.config.timeoutMs / this.context.config.pingIntervalMs) - 2);
    const ping = encode({ type: "ping", n: this.n });
    for (const user of this.context.users.all()) this.context.outboxes.ttl.send(user.routingId, ping);
  }
}
