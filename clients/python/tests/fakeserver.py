"""A small protocol 2 server in Python, for testing the client's logic where the real server
cannot be made to misbehave on cue: lost events, pings that show the client behind, a
subscriber port that goes away, a server that falls silent, or sends junk.

It speaks PROTOCOL.md from the server side on four CURVE ports of 127.0.0.1 (no ZAP: every
key completes the handshake), keeps a session of nodes with a journal for resync, carries out
a ref once per join (a request or commit sent again after a cut is dropped), cuts ports on
cue (`cut`), and runs in a thread of its own. A test changes it only through `call(fn)`, which runs `fn(server)`
on that thread, since its sockets belong to it.
"""
import base64
import queue
import random
import threading
import time

import zmq
from nacl.public import Box, PrivateKey, PublicKey

from curvehost import keys, wire

JOIN_CONTEXT = b"curvehost/join"


class FakeServer:
    def __init__(self, users, frame=1024, ping_interval=0.2, state="open"):
        """`users` maps a client public key (Z85) to (name, role)."""
        self.allowlist = dict(users)
        self.frame = frame
        self.ping_interval = ping_interval
        self.state = state
        public, secret = zmq.curve_keypair()
        self.public_key, self._secret = public.decode(), secret
        self.context = zmq.Context()
        self.nodes = {}  # id -> {"owner", "kind", "deps", "parts"}
        self.seq = 0
        self.journal = []  # (seq, header, body) of every sequenced event, for resync
        self.oldest = 0  # resync since a seq below this is too_old
        self.bound = {}  # routing id -> name
        self.presence = {}
        self.pongs = []  # (name, n) in arrival order
        self.received = []  # commits as the server took them: (header, body)
        self.requests = []  # headers of command requests, in order
        self.largest = 0  # the largest frame a client sent
        self.pinging = True
        self.ping_seq = None  # a seq to put in pings instead of the real one
        self.drop_next = 0  # sequenced events to journal without publishing (a gap)
        self.reject = None  # (code, message, id) for the next commit
        self.lose_commits = 0  # commits to take as lost in a cut: neither applied nor answered
        self.seen = {}  # routing id -> refs carried out in this join (requests and accepted commits)
        self.repeats = []  # (port, ref) of what was sent again and dropped
        self.timeout_ms = 5000
        self._presence_window = {}
        self._undelivered = {}  # (port name, routing id) -> frames waiting for the peer to come back
        self.handlers = {}  # request type -> fn(server, rid, header, body), to override one
        self._calls = queue.Queue()
        self._stopping = threading.Event()
        self._bind()
        self._thread = threading.Thread(target=self._run, name="fake curvehost", daemon=True)
        self._thread.start()

    # ---- set-up --------------------------------------------------------------------------

    def _socket(self, kind):
        socket = self.context.socket(kind)
        socket.linger = 0
        socket.curve_server = True
        socket.curve_secretkey = self._secret
        if kind == zmq.ROUTER:
            socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a peer not connected is said, not dropped
        return socket

    def _bind(self):
        for _ in range(50):
            # Below Linux's ephemeral ports, which outgoing connections take theirs from.
            port = random.randrange(10000, 32000)
            sockets = []
            try:
                for offset, kind in enumerate((zmq.ROUTER, zmq.PUB, zmq.ROUTER, zmq.ROUTER)):
                    socket = self._socket(kind)
                    sockets.append(socket)
                    socket.bind("tcp://127.0.0.1:%d" % (port + offset))
            except zmq.ZMQError:
                for socket in sockets:
                    socket.close()
                continue
            self.port = port
            self.command, self.pub, self.publisher, self.ttl = sockets
            return
        raise RuntimeError("no four free ports")

    def cut(self, names=("command", "pub", "publisher", "ttl"), rebind=True):
        """Replaces these sockets, closing every connection on them, as the real server does
        to remove a user (§8); with rebind=False the ports stay closed until rebind(names).
        Only from the server's thread (inside call())."""
        for name in names:
            getattr(self, name).close()
        self._cut = True  # the loop's poller holds the old sockets
        if rebind:
            self.rebind(names)

    def rebind(self, names):
        kinds = {"command": zmq.ROUTER, "pub": zmq.PUB, "publisher": zmq.ROUTER, "ttl": zmq.ROUTER}
        offsets = {"command": 0, "pub": 1, "publisher": 2, "ttl": 3}
        for name in names:
            for _ in range(100):
                socket = self._socket(kinds[name])
                try:
                    socket.bind("tcp://127.0.0.1:%d" % (self.port + offsets[name]))
                except zmq.ZMQError:
                    socket.close()
                    time.sleep(0.01)
                    continue
                setattr(self, name, socket)
                if name != "pub":
                    self._cut = True  # the loop's poller holds the old socket
                break
            else:
                raise RuntimeError("cannot bind the %s port again" % name)

    def call(self, fn, timeout=5):
        """Runs fn(self) on the server's thread; returns its result."""
        done = queue.Queue()
        self._calls.put((fn, done))
        ok, value = done.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def close(self):
        self._stopping.set()
        self._thread.join(5)
        self.context.destroy(linger=0)

    # ---- the loop ------------------------------------------------------------------------

    def _run(self):
        self._cut = True
        assemblers = {}
        next_ping, n = time.monotonic(), 0
        while not self._stopping.is_set():
            if self._cut:
                self._cut = False
                poller = zmq.Poller()
                for socket in (self.command, self.publisher, self.ttl):
                    if not socket.closed:
                        poller.register(socket, zmq.POLLIN)
            for socket, _ in poller.poll(10):
                if socket.closed:
                    continue
                rid, *frames = socket.recv_multipart()
                if len(frames) != 1:
                    continue
                self.largest = max(self.largest, len(frames[0]))
                try:
                    message = assemblers.setdefault((id(socket), rid), wire.Reassembler()).feed(frames[0])
                except wire.Malformed:
                    continue
                if message is None:
                    continue
                if socket is self.command:
                    self._command(rid, *message)
                elif socket is self.publisher:
                    if self.lose_commits and rid in self.bound:
                        self.lose_commits -= 1
                        continue
                    self._commit(rid, *message)
                elif message.header["type"] == "pong" and rid in self.bound:
                    self.pongs.append((self.bound[rid], message.header.get("n")))
            for name, rid in list(self._undelivered):
                self._deliver(name, rid)
            while not self._calls.empty():
                fn, done = self._calls.get()
                try:
                    done.put((True, fn(self)))
                except Exception as error:  # handed to the test's thread
                    done.put((False, error))
            if self.pinging and not self.ttl.closed and time.monotonic() >= next_ping:
                n += 1
                next_ping = time.monotonic() + self.ping_interval
                seq = self.seq if self.ping_seq is None else self.ping_seq
                for rid in list(self.bound):
                    self.send(self.ttl, rid, {"type": "ping", "n": n, "seq": seq})

    # ---- sending -------------------------------------------------------------------------

    def send(self, socket, rid, header, body=b""):
        """Sends to one peer; what a joined user's cut connection cannot take now waits for it
        to come back, as the real server keeps replies across a cut (PROTOCOL.md §4)."""
        name = next(name for name in ("command", "publisher", "ttl") if getattr(self, name) is socket)
        queue = self._undelivered.setdefault((name, rid), [])
        queue.extend(wire.encode(header, body, self.frame))
        self._deliver(name, rid)

    def _deliver(self, name, rid):
        queue = self._undelivered.get((name, rid))
        while queue:
            socket = getattr(self, name)
            if socket.closed:
                return
            try:
                socket.send_multipart([rid, queue[0]])
            except zmq.ZMQError as error:
                if error.errno != zmq.EHOSTUNREACH:
                    raise
                if rid not in self.bound or name == "ttl":
                    queue.clear()  # nobody to wait for; pings are not kept
                return
            queue.pop(0)

    def publish(self, header, body=b""):
        """Publishes an event; a sequenced one gets the next seq and goes in the journal."""
        if header["type"] != "presence":
            self.seq += 1
            header = dict(header, seq=self.seq)
            self.journal.append((self.seq, header, body))
            if self.drop_next:
                self.drop_next -= 1
                return self.seq
        for frame in wire.encode(header, body, self.frame):
            self.pub.send(frame)
        return self.seq

    def put(self, name, node_id, data, owner=None, kind="OBJECT"):
        """Commits a node as user `name` would, and publishes the event; returns its seq."""
        self.nodes[node_id] = {"owner": owner or name, "kind": kind, "deps": [], "parts": [data]}
        entry = {"id": node_id, "kind": kind, "mode": "full", "owner": owner or name, "size": len(data)}
        length, chunks = wire.encode_manifest([entry], [data])
        return self.publish({"type": "commit", "from": name, "manifest": length}, b"".join(bytes(c) for c in chunks))

    def limits(self):
        return {"frame": self.frame, "header": 65536, "request": 4194304, "commit": 1 << 29, "node": 1 << 29,
                "batch": 4096, "deps": 16384, "ids": 65536, "deltas": 256, "presence": 8192, "presenceRate": 30,
                "ping": int(self.ping_interval * 1000), "timeout": self.timeout_ms}

    def users(self):
        return [{"name": name, "role": self._role(name), "state": "joined", "latency": 1} for name in sorted(set(self.bound.values()))]

    def _role(self, name):
        return next(role for user, role in self.allowlist.values() if user == name)

    # ---- requests ------------------------------------------------------------------------

    def _command(self, rid, header, body):
        self.requests.append(header)
        kind, ref = header["type"], header.get("ref")
        reply = lambda fields, body=b"": self.send(self.command, rid, dict({"ref": ref}, **fields), body)  # noqa: E731
        error = lambda code, message="no": reply({"type": "error", "code": code, "message": message})  # noqa: E731
        if kind in self.handlers:
            return self.handlers[kind](self, rid, header, body)
        if rid in self.bound and ref is not None:
            if ref in self.seen.setdefault(rid, set()):
                self.repeats.append(("command", ref))
                return None
            self.seen[rid].add(ref)
        if kind in ("hello", "join") and header.get("protocol") != 2:
            return error("protocol_mismatch")
        if kind == "hello":
            return reply({"type": "hello", "server": "curvehost", "version": "0.2.0", "protocol": 2, "session": "fake",
                          "state": self.state, "users": len(self.bound), "limits": self.limits()})
        if kind == "join":
            name = self._check_join(rid, header)
            if name is None:
                return error("not_allowed")
            self.bound[rid] = name
            self.seen[rid] = set()
            reply({"type": "welcome", "protocol": 2, "user": name, "role": self._role(name), "state": self.state, "seq": self.seq,
                   "users": self.users(), "presence": self.presence, "limits": self.limits()})
            self.publish({"type": "users", "users": self.users()})
            return None
        name = self.bound.get(rid)
        if name is None:
            return error("not_joined")
        if kind == "fetch":
            ids = wire.parse_ids(body) if body else sorted(self.nodes)
            entries, parts = [], []
            for node_id in ids:
                node = self.nodes.get(node_id)
                if node is None:
                    entries.append({"id": node_id, "removed": True})
                    continue
                entries.append({"id": node_id, "owner": node["owner"], "kind": node["kind"], "deps": node["deps"],
                                "parts": [len(part) for part in node["parts"]]})
                parts.extend(node["parts"])
            length, chunks = wire.encode_manifest(entries, parts)
            return reply({"type": "nodes", "seq": self.seq, "manifest": length, "state": self.state, "users": self.users()}, chunks)
        if kind == "resync":
            since = header["since"]
            if since < self.oldest:
                return error("too_old")
            if since > self.seq:
                return error("bad_request")
            for seq, event, event_body in self.journal:
                if seq > since:
                    self.send(self.command, rid, event, event_body)
            return reply({"type": "resynced", "seq": self.seq, "presence": self.presence})
        if kind == "users":
            return reply({"type": "users", "users": self.users()})
        if kind in ("lock", "unlock", "give"):
            ids = wire.parse_ids(body)
            owner = {"lock": name, "unlock": "common", "give": header.get("to")}[kind]
            for node_id in ids:
                if node_id not in self.nodes:
                    return reply({"type": "error", "code": "not_found", "message": "There is no node %s." % node_id, "id": node_id})
                if self.nodes[node_id]["owner"] not in (name, "common"):
                    return reply({"type": "error", "code": "denied", "message": "%s holds %s." % (self.nodes[node_id]["owner"], node_id), "id": node_id})
            for node_id in ids:
                self.nodes[node_id]["owner"] = owner
            self.publish({"type": "rights", "from": name, "owner": owner}, wire.encode_ids(ids))
            return reply({"type": "ok", "seq": self.seq})
        if kind == "delete":
            ids = wire.parse_ids(body)
            for node_id in ids:
                self.nodes.pop(node_id, None)
            self.publish({"type": "delete", "from": name}, wire.encode_ids(ids))
            return reply({"type": "ok", "seq": self.seq})
        if kind == "presence":
            now = time.monotonic()
            window = self._presence_window.setdefault(name, [now, 0])
            if now - window[0] >= 1:
                window[:] = [now, 0]
            window[1] += 1
            if window[1] > self.limits()["presenceRate"]:
                return error("rate_limited", "At most %d presence updates a second." % self.limits()["presenceRate"])
            self.presence[name] = {"data": header["data"], "latency": 1}
            self.publish({"type": "presence", "from": name, "data": header["data"], "latency": 1})
            return reply({"type": "ok", "seq": self.seq})
        if kind == "leave":
            self.bound.pop(rid, None)
            return reply({"type": "ok", "seq": self.seq})
        return error("unknown_type")

    def _check_join(self, rid, header):
        """The join proof, checked as the real server does: it must open with the claimed key and hold R."""
        key = header.get("key")
        if key not in self.allowlist:
            return None
        box = Box(PrivateKey(keys.decode_key(self._secret.decode())), PublicKey(keys.decode_key(key)))
        try:
            plain = box.decrypt(base64.b64decode(header["proof"]), base64.b64decode(header["nonce"]))
        except Exception:
            return None
        return self.allowlist[key][0] if plain == JOIN_CONTEXT + rid else None

    def _commit(self, rid, header, body):
        name = self.bound.get(rid)
        if name is None:
            return
        ref = header.get("ref")
        if ref is not None and ref in self.seen.get(rid, ()):
            self.repeats.append(("publisher", ref))
            return None
        self.received.append((header, body))
        nodes = wire.parse_manifest(header, body)
        if self.reject:
            code, message, node_id = self.reject
            self.reject = None
            return self.send(self.publisher, rid, {"type": "rejected", "ref": ref, "code": code, "message": message, "id": node_id})
        for entry, _ in nodes:
            if entry.get("mode") == "delta" and entry["id"] not in self.nodes:
                return self.send(self.publisher, rid, {"type": "rejected", "ref": ref, "code": "not_found",
                                                       "message": "There is no node %s." % entry["id"], "id": entry["id"]})
        published, parts = [], []
        for entry, (part,) in nodes:
            node = self.nodes.get(entry["id"])
            if node is None:
                node = self.nodes[entry["id"]] = {"owner": entry.get("owner", name), "kind": "", "deps": [], "parts": []}
            node["parts"] = node["parts"] + [part] if entry.get("mode") == "delta" else [part]
            node["kind"] = entry.get("kind", node["kind"])
            node["deps"] = entry.get("deps", node["deps"])
            event = {"id": entry["id"], "kind": node["kind"], "mode": entry.get("mode", "full"), "owner": node["owner"], "size": len(part)}
            if "deps" in entry:
                event["deps"] = entry["deps"]
            published.append(event)
            parts.append(part)
        length, chunks = wire.encode_manifest(published, parts)
        if ref is not None:
            self.seen.setdefault(rid, set()).add(ref)
        self.publish({"type": "commit", "from": name, "ref": ref, "manifest": length}, b"".join(bytes(c) for c in chunks))
