#!/usr/bin/env python3
"""A small curvehost client written from PROTOCOL.md alone, with pyzmq and PyNaCl.

It reads an invite, joins (with the proof that binds its routing id to its key),
syncs the session (catalog, fetch, buffered events), commits a node, answers
pings, and prints what it receives. Start here for a Blender add-on.

    python3 curvehost_client.py alice.invite --commit cube=./cube.bin --listen 5

Debian: apt-get install python3-zmq python3-nacl
"""
import argparse
import base64
import json
import os
import sys
import time

import zmq
import zmq.utils.monitor
import zmq.utils.z85
from nacl.public import Box, PrivateKey, PublicKey

PROTOCOL = 1
JOIN_CONTEXT = b"curvehost/join"


def encode(header, payload=()):
    return [json.dumps(header, separators=(",", ":")).encode()] + list(payload)


def decode(frames):
    return json.loads(frames[0].decode()), frames[1:]


class Client:
    def __init__(self, invite, timeout_ms=10000):
        self.invite = invite
        self.timeout_ms = timeout_ms
        server, client = invite["server"], invite["client"]
        if "secretKey" not in client:
            raise SystemExit("This invite holds no secret key.")
        self.host, self.port = server["host"], server["port"]
        self.server_key = server["publicKey"].encode()
        self.public_key = client["publicKey"].encode()
        self.secret_key = client["secretKey"].encode()
        # R: 16 random bytes, the first not 0, the same on the three DEALER sockets.
        self.routing_id = bytes([os.urandom(1)[0] | 1]) + os.urandom(15)
        self.context = zmq.Context()
        self.ref = 0
        self.seq = 0
        self.nodes = {}
        self.name = None
        self.acks = []  # our own commits seen published: (id, seq)
        self.command = self._socket(zmq.DEALER, 0)

    def _socket(self, kind, offset):
        socket = self.context.socket(kind)
        socket.curve_serverkey = self.server_key
        socket.curve_publickey = self.public_key
        socket.curve_secretkey = self.secret_key
        socket.linger = 0
        if kind == zmq.DEALER:
            socket.setsockopt(zmq.ROUTING_ID, self.routing_id)
        if kind == zmq.SUB:
            socket.setsockopt(zmq.SUBSCRIBE, b"")
        socket.connect("tcp://%s:%d" % (self.host, self.port + offset))
        return socket

    def request(self, header):
        """Sends a command and returns every message of its reply (several for catalog and fetch)."""
        self.ref += 1
        header = dict(header, ref=self.ref)
        self.command.send_multipart(encode(header))
        parts = []
        while True:
            if not self.command.poll(self.timeout_ms):
                raise TimeoutError("no reply to %s" % header["type"])
            message, payload = decode(self.command.recv_multipart())
            if message.get("ref") != self.ref:
                continue  # a notice or a reply to something else
            if message["type"] == "error":
                raise RuntimeError("%s: %s" % (message["code"], message["message"]))
            parts.append((message, payload))
            if message.get("last", True):
                return parts

    def join(self):
        nonce = os.urandom(24)
        # crypto_box_easy("curvehost/join" || R, nonce, server public key, client secret key)
        box = Box(PrivateKey(zmq.utils.z85.decode(self.secret_key)), PublicKey(zmq.utils.z85.decode(self.server_key)))
        proof = box.encrypt(JOIN_CONTEXT + self.routing_id, nonce).ciphertext
        (welcome, _), = self.request({
            "type": "join", "protocol": PROTOCOL, "key": self.public_key.decode(),
            "nonce": base64.b64encode(nonce).decode(), "proof": base64.b64encode(proof).decode(),
        })
        self.name = welcome["user"]
        # Only now the other three ports. A subscriber misses what is published before its
        # handshake completes, so wait for it (PROTOCOL.md §3); later handshakes are
        # reconnections, after which we resync (§8).
        self.subscriber = self.context.socket(zmq.SUB)
        self.monitor = self.subscriber.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.subscriber.curve_serverkey = self.server_key
        self.subscriber.curve_publickey = self.public_key
        self.subscriber.curve_secretkey = self.secret_key
        self.subscriber.linger = 0
        self.subscriber.setsockopt(zmq.SUBSCRIBE, b"")
        self.subscriber.connect("tcp://%s:%d" % (self.host, self.port + 1))
        if not self.monitor.poll(self.timeout_ms):
            raise TimeoutError("the subscriber port did not complete its handshake")
        zmq.utils.monitor.recv_monitor_message(self.monitor)
        self.publisher = self._socket(zmq.DEALER, 2)
        self.ttl = self._socket(zmq.DEALER, 3)
        self.ttl.send_multipart(encode({"type": "pong", "n": 0}))
        return welcome

    def sync(self):
        """catalog, fetch, then the subscriber events that arrived meanwhile (PROTOCOL.md §4)."""
        catalog = self.request({"type": "catalog"})
        self.seq = catalog[0][0]["seq"]
        ids = [node["id"] for message, _ in catalog for node in message["nodes"]]
        for start in range(0, len(ids), 200):
            for message, payload in self.request({"type": "fetch", "ids": ids[start:start + 200]}):
                at = 0
                for node in message["nodes"]:
                    frames = payload[at:at + node["frames"]]
                    at += node["frames"]
                    if not node.get("removed"):
                        self.nodes[node["id"]] = dict(node, frames=frames)
        self.pump(0)

    def apply(self, event, payload):
        if event["seq"] <= self.seq:
            return
        if event["seq"] > self.seq + 1:
            self.resync()
            if event["seq"] <= self.seq:
                return
        self.seq = event["seq"]
        kind = event["type"]
        if kind == "commit":
            if event["from"] == self.name:
                self.acks.append((event["id"], event["seq"]))
            node = self.nodes.get(event["id"])
            frames = node["frames"] + payload if node and event["mode"] == "delta" else payload
            self.nodes[event["id"]] = {"id": event["id"], "owner": event["owner"], "deps": event["deps"], "kind": event["kind"], "frames": frames}
        elif kind == "rights":
            for node_id in event["ids"]:
                if node_id in self.nodes:
                    self.nodes[node_id]["owner"] = event["owner"]
        elif kind == "delete":
            for node_id in event["ids"]:
                self.nodes.pop(node_id, None)
        print("seq %d %s %s" % (event["seq"], kind, event.get("id", event.get("ids", event.get("state", "")))), flush=True)

    def resync(self):
        self.ref += 1
        ref = self.ref
        self.command.send_multipart(encode({"type": "resync", "ref": ref, "since": self.seq}))
        while self.command.poll(self.timeout_ms):
            message, payload = decode(self.command.recv_multipart())
            if message.get("ref") == ref and message["type"] in ("resynced", "error"):
                return
            if "seq" in message and "ref" not in message:
                self.apply(message, payload)
        raise TimeoutError("no reply to resync")

    def commit(self, node_id, data, kind="file"):
        """Commits a node and waits for it to come back on the subscriber port: that is the acknowledgement."""
        self.ref += 1
        self.publisher.send_multipart(encode({"type": "commit", "ref": self.ref, "id": node_id, "kind": kind, "deps": [], "mode": "full"}, [data]))
        deadline = time.monotonic() + self.timeout_ms / 1000
        while time.monotonic() < deadline:
            if self.publisher.poll(0):
                rejected, _ = decode(self.publisher.recv_multipart())
                raise RuntimeError("rejected: %s (%s)" % (rejected["message"], rejected["code"]))
            self.pump(50)
            for ack in self.acks:
                if ack[0] == node_id:
                    self.acks.remove(ack)
                    return ack[1]
        raise TimeoutError("commit %s was not acknowledged" % node_id)

    def pump(self, timeout_ms):
        """Answers pings and applies subscriber events for up to timeout_ms; returns the events applied."""
        poller = zmq.Poller()
        poller.register(self.subscriber, zmq.POLLIN)
        poller.register(self.ttl, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        applied = []
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            ready = dict(poller.poll(remaining))
            if not ready:
                return applied
            if self.monitor in ready:
                zmq.utils.monitor.recv_monitor_message(self.monitor)
                self.resync()  # the subscriber reconnected: ask for what went past
            if self.ttl in ready:
                ping, _ = decode(self.ttl.recv_multipart())
                if ping.get("type") == "ping":
                    self.ttl.send_multipart(encode({"type": "pong", "n": ping["n"]}))
            if self.subscriber in ready:
                event, payload = decode(self.subscriber.recv_multipart())
                if "seq" in event:
                    self.apply(event, payload)
                    applied.append((event, payload))

    def close(self):
        try:
            self.request({"type": "leave"})
        finally:
            self.context.destroy(linger=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("invite")
    parser.add_argument("--commit", action="append", default=[], metavar="ID=FILE")
    parser.add_argument("--listen", type=float, default=0, metavar="SECONDS")
    parser.add_argument("--expect", action="append", default=[], metavar="ID", help="wait until these nodes are present")
    args = parser.parse_args()
    with open(args.invite) as file:
        client = Client(json.load(file))
    welcome = client.join()
    client.sync()
    print("joined as %s (%s), %d nodes at seq %d" % (welcome["user"], welcome["role"], len(client.nodes), client.seq), flush=True)
    for item in args.commit:
        node_id, path = item.split("=", 1)
        with open(path, "rb") as file:
            print("committed %s at seq %d" % (node_id, client.commit(node_id, file.read())), flush=True)
    deadline = time.monotonic() + max(args.listen, 10 if args.expect else 0)
    while time.monotonic() < deadline and not all(node_id in client.nodes for node_id in args.expect):
        client.pump(100)
    print(json.dumps({"seq": client.seq, "nodes": {node_id: b"".join(node["frames"]).hex() for node_id, node in sorted(client.nodes.items())}}), flush=True)
    client.close()
    return 0 if all(node_id in client.nodes for node_id in args.expect) else 1


if __name__ == "__main__":
    sys.exit(main())
