/**
 * The ttl port: a ping to every joined user each interval, carrying the last
 * published seq (PROTOCOL.md §7); the user's latency from its pong; and the
 * removal of a user silent for longer than the timeout. Also where time-based
 * checks live (a key that expires while its user is joined).
 */
import { toFrames, type Decoded, type WireFailure } from "../protocol/index.js";
import type { ServerContext } from "./context.js";
import type { User } from "./users.js";

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

  handlePong(user: User | undefined, decoded: Decoded<"ttl"> | { ok: false; error: WireFailure }): void {
    if (!user || !decoded.ok) return; // nothing is answered on the ttl port
    const now = Date.now();
    user.lastPong = now;
    const sent = this.sentAt.get(decoded.request.n);
    if (sent !== undefined) user.latency = now - sent;
  }

  private tick(): void {
    const { users, admission, departures, config, broadcaster, outboxes } = this.context;
    const now = Date.now();
    for (const user of users.all()) {
      if (now - user.lastPong > config.timeoutMs) departures.remove(user, "lost");
      else if (admission.status(user.publicKey, now).state === "expired") departures.remove(user, "expired");
    }
    this.n += 1;
    this.sentAt.set(this.n, now);
    this.sentAt.delete(this.n - Math.ceil(config.timeoutMs / config.pingIntervalMs) - 2);
    const ping = toFrames({ type: "ping", n: this.n, seq: broadcaster.publishedSeq }, [], config.limits.frame);
    for (const user of users.all()) outboxes.ttl.send(user.routingId, ping, ping[0]!.length);
  }
}
