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

    def drop_subscriber_frame(self, timeout=10.0):
        """Reads the subscriber's next frame past the client, as if it were lost in transit."""
        socket = self.client._subscriber.socket
        if not socket.poll(timeout * 1000):
            raise TimeoutError("nothing on the subscriber port within %g s" % timeout)
        return json.loads(socket.recv().partition(b"\n")[0])

    def presence_burst(self, count):
        """Sends presence `count` times as fast as it can; returns the first refusal's code."""
        for n in range(count):
            try:
                self.client.set_presence({"n": n})
            except ServerError as error:
                return error.code
        return None

    def call(self, name, args=()):
        """Any other method of the client, by name."""
        return getattr(self.client, name)(*args)

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
