"""Drives the curvehost package from another process, one JSON line at a time.

The TypeScript interoperability tests (test/clients/python-client.test.ts) run this with a
real server and a TypeScript client on the other side: they send {"op": …, …} on stdin and
read one line back per request, {"ok": result} or {"error": {"type", "code"?, "message"}}.
Node data never travels as JSON: it is read from and written to files, and events report
each node's size and SHA-256 instead.
"""
import hashlib
import json
import os
import sys
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from curvehost import Client, ServerError  # noqa: E402


def digest(data):
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def summarise(event):
    """An event as JSON can carry it: node data replaced by its size and digest."""
    if event["type"] != "commit":
        return event
    nodes = [dict({k: v for k, v in node.items() if k != "data"}, **digest(node["data"])) for node in event["nodes"]]
    return dict(event, nodes=nodes)


def matches(event, until):
    """Whether an event is the one waited for: every field of `until` equal, `id` among its nodes or ids."""
    for key, value in until.items():
        if key == "id":
            ids = [node["id"] for node in event.get("nodes", [])] + event.get("ids", [])
            if value not in ids:
                return False
        elif event.get(key) != value:
            return False
    return True


class Driver:
    def __init__(self):
        self.client = None

    def connect(self, invite, timeout=10.0, keep_replica=False, lost_timeout=None):
        replica = self.client.replica if keep_replica and self.client else None
        if self.client:
            self.client.close()
        self.client = Client.from_invite(invite, timeout=timeout, replica=replica, lost_timeout=lost_timeout)

    def hello(self):
        return self.client.hello()

    def join(self):
        return self.client.join()

    def sync(self):
        self.client.sync()
        return self.replica()

    def replica(self):
        replica = self.client.replica
        return {
            "seq": replica.seq,
            "state": replica.state,
            "users": [user["name"] for user in replica.users],
            "presence": replica.presence,
            "nodes": {node_id: dict(digest(node.data), owner=node.owner, kind=node.kind, deps=node.deps, parts=len(node.parts))
                      for node_id, node in replica.nodes.items()},
            "resyncs": self.client.resyncs,
            "lost": self.client.lost,
        }

    def write_node(self, id, path):
        with open(path, "wb") as file:
            file.write(self.client.replica.nodes[id].data)

    def commit(self, entries, files, wait=True):
        datas = []
        for path in files:
            with open(path, "rb") as file:
                datas.append(file.read())
        return self.client.commit(entries, datas, wait=wait)

    def poll_until(self, until=None, seq=None, timeout=10.0):
        """Polls until an event matches `until` (or the replica reaches `seq`); returns the events."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            if until is not None and any(matches(event, until) for event in events):
                return events
            if seq is not None and self.client.replica.seq >= seq:
                return events
            if time.monotonic() > deadline:
                raise TimeoutError("no matching event within %g s; got %s" % (timeout, json.dumps(events)))
            events += [summarise(event) for event in self.client.poll(0.1)]

    def await_pings(self, seq, timeout=10.0):
        """Waits, reading nothing, until the last two pings both carried `seq` or more."""
        deadline = time.monotonic() + timeout
        while True:
            before_last = self.client._pinger.before_last()
            if before_last is not None and before_last[0] >= seq:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("no two pings at seq %d within %g s" % (seq, timeout))
            time.sleep(0.01)  # the ping thread records pings; nothing to wait on but its state

    def drop_subscriber_frame(self, timeout=10.0):
        """Reads the subscriber's next frame past the client, as if it were lost in transit."""
        socket = self.client._subscriber.socket
        if not socket.poll(timeout * 1000):
            raise TimeoutError("nothing on the subscriber port within %g s" % timeout)
        return json.loads(socket.recv().partition(b"\n")[0])

    def burst(self, count, delta_every=5, size=65536, in_flight=3, pause_at=None, timeout=60.0, pace=0.0):
        """Commits `count` commits without waiting (fulls of `size` bytes, and every
        `delta_every`-th a delta appended to the node "chain", which must exist), while
        keeping `in_flight` requests unanswered at all times: lock and unlock of the node
        "toggle" in turn (one at a time), and `users`. Once `pause_at` commits are sent (and
        the requests topped up) it reads nothing but the connections' monitors until the
        command and publisher connections have both been cut and remade (the test cuts them
        meanwhile, having seen those commits): what was in flight is then still unanswered
        when the new connections come up, and is sent again on them; then it goes on. It
        polls for `pace` seconds between commits (0: only looks), topping the requests up
        before each look.
        Returns what came back: the seqs each commit ref was
        acknowledged at, the replies each request got, the requests that had gone out on the
        command connection when it broke, and how many messages were sent again.
        """
        client = self.client
        command, publisher = client._command_link, client._publisher_link
        refs, deltas, requests, toggles, pending = [], [], [], [], {}
        acks, replies, refused, rights, synced = {}, {}, [], 0, []
        locked = client.replica.nodes["toggle"].owner == client.name
        toggle_pending = None
        deadline = time.monotonic() + timeout

        def take(events):
            nonlocal rights, toggle_pending, locked
            for event in events:
                kind = event["type"]
                if kind == "commit" and event.get("from") == client.name and event.get("ref") in pending:
                    acks.setdefault(event["ref"], []).append(event["seq"])
                elif kind == "rights" and event["from"] == client.name and "toggle" in event["ids"]:
                    rights += 1
                elif kind in ("reply", "refused"):
                    replies.setdefault(event["ref"], []).append(kind if kind == "reply" else event["code"])
                    if event["ref"] == toggle_pending:
                        toggle_pending = None
                        if kind == "reply":
                            locked = not locked
                    if kind == "refused":
                        refused.append(event)
                elif kind in ("rejected", "lost"):
                    refused.append(event)
                elif kind == "synced":
                    synced.append(event["seq"])  # fetched anew: the events of commits in between never come

        def top_up():
            nonlocal toggle_pending
            while len(client._requests) < in_flight:
                if toggle_pending is None:
                    toggle_pending = (client.unlock if locked else client.lock)(["toggle"], wait=False)
                    toggles.append(toggle_pending)
                    requests.append(toggle_pending)
                else:
                    requests.append(client.users(wait=False))

        monitors = zmq.Poller()
        monitors.register(command.watch.monitor, zmq.POLLIN)
        monitors.register(publisher.watch.monitor, zmq.POLLIN)

        def await_cut():
            # Nothing is read but the connections' monitors, from the last commit sent to the
            # new connections: the requests and commits sent stay unanswered (their replies and
            # events, if any, wait in the sockets), and the update that sees a new connection
            # sends them again.
            links = (command, publisher)
            while not all(link.breaks and link.watch.up for link in links):
                if time.monotonic() > deadline:
                    raise TimeoutError("no cut and reconnection of the command and publisher ports within %g s; breaks %s"
                                       % (timeout, [len(link.breaks) for link in links]))
                for link in links:
                    link.update()
                monitors.poll(100)

        for n in range(count):
            if n % delta_every == delta_every - 1:
                data = b"%04d," % n
                deltas.append(data)
                ref = client.commit([{"id": "chain", "mode": "delta"}], [data], wait=False)
            else:
                ref = client.commit([{"id": "burst-%d" % (n % 16), "kind": "BURST"}], [os.urandom(size)], wait=False)
            refs.append(ref)
            pending[ref] = True
            top_up()
            if len(refs) == pause_at:
                await_cut()
            take(client.poll(pace))
        while len(acks) < len(refs) or any(ref not in replies for ref in requests):
            if time.monotonic() > deadline:
                unacknowledged = [ref for ref in refs if ref not in acks]
                raise TimeoutError("%d of %d commits acknowledged, %d requests unanswered within %g s; refused: %s; "
                                   "unacknowledged: %s, outstanding: %s; publisher connection %d (%s), breaks %s; replica at %d, fetched anew at %s, lost: %s"
                                   % (len(acks), len(refs), sum(ref not in replies for ref in requests), timeout, json.dumps(refused),
                                      unacknowledged, {ref: entry[2] for ref, entry in publisher.outstanding.items()},
                                      publisher.watch.handshakes, "up" if publisher.watch.up else "down", list(publisher.breaks),
                                      client.replica.seq, synced, client.lost))
            take(client.poll(0.05))
        return {
            "refs": refs,
            "acks": {str(ref): seqs for ref, seqs in acks.items()},
            "deltas": [data.decode() for data in deltas],
            "requests": requests,
            "replies": {str(ref): got for ref, got in replies.items()},
            "refused": refused,
            "rights": rights,
            "toggles": sum(1 for ref in toggles if replies.get(ref) == ["reply"]),
            "in_flight_at_break": [ref for cut in command.breaks for ref in cut],
            "commits_at_break": [ref for cut in publisher.breaks for ref in cut],
            "breaks": {"command": len(command.breaks), "publisher": len(publisher.breaks)},
            "resent": {"command": command.resent, "publisher": publisher.resent},
            "seq": client.replica.seq,
        }

    def presence_burst(self, count, wait=True, timeout=10.0):
        """Sends presence `count` times as fast as it can; returns the first refusal's code.

        wait=False sends them all without waiting, then polls for their outcomes: returns
        how many of each (the "reply" count, and each refusal's code).
        """
        if not wait:
            refs = {self.client.set_presence({"n": n}, wait=False) for n in range(count)}
            outcomes = {}
            deadline = time.monotonic() + timeout
            while refs:
                if time.monotonic() > deadline:
                    raise TimeoutError("%d presences unanswered within %g s" % (len(refs), timeout))
                for event in self.client.poll(0.05):
                    if event["type"] in ("reply", "refused") and event["ref"] in refs:
                        refs.discard(event["ref"])
                        key = "reply" if event["type"] == "reply" else "%s/%s" % (event["request"], event["code"])
                        outcomes[key] = outcomes.get(key, 0) + 1
            return outcomes
        for n in range(count):
            try:
                self.client.set_presence({"n": n})
            except ServerError as error:
                return error.code
        return None

    def call(self, name, args=(), kwargs=None):
        """Any other method of the client, by name."""
        return getattr(self.client, name)(*args, **(kwargs or {}))

    def close(self):
        if self.client:
            self.client.close()


def main():
    driver = Driver()
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            reply = {"ok": getattr(driver, op)(**request)}
        except Exception as error:  # reported to the test, which decides
            reply = {"error": {"type": type(error).__name__, "code": getattr(error, "code", None), "id": getattr(error, "id", None), "message": str(error)}}
        print(json.dumps(reply), flush=True)
    driver.close()


if __name__ == "__main__":
    main()
