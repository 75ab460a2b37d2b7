"""The curvehost client: joins a session, keeps a Replica of it in step, and changes it.

One Client is one connection: four sockets sharing one routing id, and one join. All of it
runs on the caller's thread except the ttl port (ttl.Pinger). A request waits for its reply
with a timeout, or with wait=False returns its ref at once and its outcome comes through
poll(); whatever else arrives meanwhile (subscriber events, rejections, notices) is kept,
applied to the replica in seq order, and handed over by the next poll(), so nothing read
while waiting is lost.

Keeping the replica in step (PROTOCOL.md §3, §4, §6–§8): fetch everything once the
subscriber's handshake is done, then apply the events above the fetched seq; and ask
`resync` whenever something may have gone past unseen: a gap in seq, a reconnection of the
subscriber, or a ping whose seq shows the client behind.

Surviving cuts (PROTOCOL.md §5, §8): the server replaces its sockets to remove users, and
libzmq reconnects. Requests still unanswered and commits not yet acknowledged wait in a
transport.Link, which sends them again, with the same refs and in their order, on the new
command or publisher connection; the server carries out each ref once per join.
"""
import base64
import heapq
import itertools
import secrets
import time
from collections import deque

import zmq

from . import messages, wire
from .errors import ConnectError, InviteError, ServerError
from .invite import MAX_BASE_PORT, Invite, load_invite
from .keys import decode_key, join_proof, new_routing_id, public_key_of
from .replica import Replica
from .transport import BATCH, Channel, Curve, Link, Watch, curve_socket, other_protocol
from .ttl import Pinger

PROTOCOL = messages.PROTOCOL
COMMAND, SUBSCRIBER, PUBLISHER, TTL = range(4)
# What a commit entry may say; the client fills in `size`.
ENTRY_FIELDS = frozenset(("id", "kind", "deps", "mode", "owner", "size"))
# The longest a wait sleeps before it looks again at what the ping thread knows.
TICK = 0.25
# How long a refused reconnection waits for a `kicked` notice before it counts as lost. The
# server sends the notice before it cuts, but it travels on another connection than the
# refusal, which may be seen first.
REFUSAL_GRACE = 1.0
# Resyncs in a row over a replay with a hole before the client fetches everything instead.
RESYNC_ATTEMPTS = 3
# The lost timeout until hello or welcome gives the server's (limits.timeout, PROTOCOL.md §9).
DEFAULT_LOST_TIMEOUT = 5.0


class _Request:
    """A request sent and not yet answered: its type, the replies that answer it, and whether
    a caller waits for it (else its outcome goes to poll())."""

    __slots__ = ("kind", "replies", "waited")

    def __init__(self, kind, replies, waited):
        self.kind, self.replies, self.waited = kind, replies, waited


class Client:
    """A connection to one curvehost session (see the package's README for a walk-through)."""

    @classmethod
    def from_invite(cls, invite, timeout=10.0, replica=None, lost_timeout=None):
        """A client for an Invite, or for the path of an invite file."""
        if not isinstance(invite, Invite):
            invite = load_invite(invite)
        if invite.secret_key is None:
            raise InviteError("This invite holds no secret key: pass your keys to Client(...) yourself.")
        return cls(invite.host, invite.port, invite.server_key, invite.public_key, invite.secret_key, timeout, replica, lost_timeout)

    def __init__(self, host, port, server_key, public_key, secret_key, timeout=10.0, replica=None, lost_timeout=None):
        """`timeout`: how long a request waits for its reply (s). `lost_timeout`: how long
        without a ping before the server counts as lost; by default the server's own
        (limits.timeout), 5 s until hello or welcome has said it."""
        if not isinstance(host, str) or not host:
            raise ValueError("host is a host name or address")
        if type(port) is not int or not 1 <= port <= MAX_BASE_PORT:
            raise ValueError("port is the server's base port, from 1 to %d" % MAX_BASE_PORT)
        keys = [key.decode("ascii") if isinstance(key, bytes) else key for key in (server_key, public_key, secret_key)]
        for key, what in zip(keys, ("server_key", "public_key", "secret_key")):
            try:
                decode_key(key)
            except ValueError:
                raise ValueError("%s is not a Z85 key" % what) from None
        if public_key_of(keys[2]) != keys[1]:
            raise ValueError("secret_key is not the secret key of public_key")
        if not timeout > 0:
            raise ValueError("timeout is a number of seconds above 0")
        if lost_timeout is not None and not lost_timeout > 0:
            raise ValueError("lost_timeout is a number of seconds above 0, or None for the server's")
        self.timeout = float(timeout)
        self._lost_timeout = None if lost_timeout is None else float(lost_timeout)
        self.replica = Replica() if replica is None else replica
        self.name = None
        self.role = None
        self.limits = {}
        self.lost = None
        # How many times this client asked resync: for tests and curious callers.
        self.resyncs = 0
        # When the subscriber port last gave an event (time.monotonic()), to tell a lost event
        # from one still on its way.
        self._last_event_at = None
        self._host, self._port = host, port
        self._curve = Curve(*keys)
        self._routing_id = new_routing_id()
        # A random start keeps this client's refs apart from those of an earlier connection
        # whose commits may still be replayed to it; JavaScript reads numbers below 2**53 exactly.
        self._ref = secrets.randbelow(1 << 48)
        self._inbox = deque()  # subscriber messages read and not yet applied
        self._outbox = []  # what the next poll() returns
        self._requests = {}  # ref -> _Request, of requests not yet answered
        self._answers = {}  # ref -> the reply to a request a caller waits for
        self._commits = {}  # ref -> whether commit() waits for it, of commits not yet acknowledged
        self._acks = {}  # ref -> seq of the waited commits that came back
        self._failures = {}  # ref -> ServerError of the waited commits that were rejected
        # A heap of (seq, arrival, reply) of wait=False replies, until the replica has reached seq:
        # a step looks at the ones it releases only. `arrival` numbers them as they came.
        self._held = []
        self._arrivals = itertools.count()
        self._replay = None  # where events replayed by the resync under way go
        self._joined = self._synced = self._left = self._closed = False
        self._reconnected = False
        self._refused_at = None  # when a port first refused this key once joined
        self._subscriber = self._subscriber_watch = self._publisher = self._publisher_link = self._pinger = None
        self._context = zmq.Context()
        if ":" in host:
            # An IPv6 address: every socket made in this context may use IPv6.
            self._context.setsockopt(zmq.IPV6, 1)
        try:
            # Not immediate: libzmq would drop, with a broken connection, the replies received
            # and not yet read, and the server never sends a reply twice (transport.Link).
            socket = curve_socket(self._context, zmq.DEALER, self._curve, self._routing_id)
            self._command = Channel(socket, self._address(COMMAND), protocol_1_is_fatal=True)
            self._command_watch = Watch(socket, self._command.address)
            self._command_link = Link(self._command, self._command_watch, self.timeout, self._frame)
            socket.connect(self._endpoint(COMMAND))
            self._poller = zmq.Poller()
            self._poller.register(socket, zmq.POLLIN)
            self._poller.register(self._command_watch.monitor, zmq.POLLIN)
        except BaseException:
            self._context.destroy(linger=0)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<curvehost.Client %s at %s%s>" % (self.name or "(not joined)", self._address(COMMAND), ", lost" if self.lost else "")

    @property
    def lost_timeout(self):
        """Seconds without a ping after which the server counts as lost: the caller's, else the server's."""
        if self._lost_timeout is not None:
            return self._lost_timeout
        timeout = self.limits.get("timeout")
        return timeout / 1000.0 if type(timeout) in (int, float) and timeout > 0 else DEFAULT_LOST_TIMEOUT

    @property
    def resent(self):
        """How many requests and commits were sent again on a remade connection."""
        return self._command_link.resent + (self._publisher_link.resent if self._publisher_link else 0)

    # ---- joining --------------------------------------------------------------------------

    def hello(self):
        """Asks the server who it is; returns the hello reply (limits included). Needs no join."""
        reply = self._parse(messages.hello, self._join_request("hello", {"protocol": PROTOCOL}, "hello"))
        if reply.get("protocol") != PROTOCOL:
            raise ConnectError(other_protocol(reply.get("protocol")))
        self.limits = reply.get("limits", self.limits)
        return reply

    def join(self):
        """Joins with the proof that binds this client's routing id to its key; returns the welcome.

        Then connects the subscriber, publisher and ttl ports and waits for their handshakes
        (the subscriber's before anything is fetched, PROTOCOL.md §3), and starts answering
        pings. Call sync() next.
        """
        self._usable()
        if self._joined:
            raise RuntimeError("this client has joined already")
        nonce, proof = join_proof(self._routing_id, self._curve.server_key, self._curve.secret_key)
        fields = {
            "protocol": PROTOCOL,
            "key": self._curve.public_key,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "proof": base64.b64encode(proof).decode("ascii"),
        }
        welcome = self._parse(messages.welcome, self._join_request("join", fields, "welcome"))
        if welcome.get("protocol", PROTOCOL) != PROTOCOL:
            raise ConnectError(other_protocol(welcome.get("protocol")))
        self.name, self.role = welcome["user"], welcome["role"]
        self.limits = welcome.get("limits", self.limits)
        self.replica.users = welcome.get("users", [])
        self.replica.presence = dict(welcome.get("presence", {}))
        self.replica.state = welcome["state"]
        self._connect_session_ports()
        self._joined = True
        return welcome

    def _join_request(self, kind, fields, reply):
        try:
            return self._request(kind, fields, replies=(reply,))
        except ServerError as error:
            if error.code == "protocol_mismatch":
                raise ConnectError(other_protocol()) from None
            raise

    def _connect_session_ports(self):
        # Immediate: what libzmq still held for a broken connection goes with it, so that the
        # commits sent again keep their order (transport.Link).
        publisher = curve_socket(self._context, zmq.DEALER, self._curve, self._routing_id, immediate=True)
        self._publisher = Channel(publisher, self._address(PUBLISHER))
        publisher_watch = Watch(publisher, self._publisher.address)
        self._publisher_link = Link(self._publisher, publisher_watch, self.timeout, self._frame)
        publisher.connect(self._endpoint(PUBLISHER))
        self._pinger = Pinger(self._context, self._curve, self._routing_id, self._endpoint(TTL), self._address(TTL))
        self._pinger.start()
        subscriber = curve_socket(self._context, zmq.SUB, self._curve)
        self._subscriber = Channel(subscriber, self._address(SUBSCRIBER))
        self._subscriber_watch = Watch(subscriber, self._subscriber.address)
        subscriber.connect(self._endpoint(SUBSCRIBER))
        for socket in (subscriber, self._subscriber_watch.monitor, publisher, publisher_watch.monitor):
            self._poller.register(socket, zmq.POLLIN)
        try:
            self._await_handshakes()
        except BaseException:
            self._pinger.stop()  # no pongs for a join that did not complete
            raise

    def _await_handshakes(self):
        """Waits until the subscriber, publisher and ttl ports have all done their handshakes."""
        watches = (self._subscriber_watch, self._publisher_link.watch)
        poller = zmq.Poller()
        for watch in watches:
            poller.register(watch.monitor, zmq.POLLIN)
        deadline = time.monotonic() + self.timeout
        while True:
            self._subscriber_watch.read()
            self._publisher_link.update()
            for watch in watches:
                self._check_refused(watch)
            if all(watch.handshakes for watch in watches) and self._pinger.ready:
                return
            if time.monotonic() >= deadline:
                late = next((watch for watch in watches if not watch.handshakes), None)
                raise ConnectError(late.problem(self.timeout) if late else self._pinger.problem(self.timeout))
            poller.poll(min(TICK, max(0.0, deadline - time.monotonic())) * 1000)

    def sync(self):
        """Brings the replica up to date and returns it.

        An empty replica (seq 0) fetches everything; one kept from an earlier connection
        resyncs from its seq, or fetches everything when the server no longer holds what
        came since. The events that came meanwhile are applied above the fetched seq, and
        the ones applied are returned by the next poll().
        """
        self._joined_or_raise()
        self._reconnected = False
        if self.replica.seq == 0:
            self._fetch_everything(announce=False)
        else:
            self._resync(announce=False)
        self._synced = True
        self._process_inbox()
        self._release()
        return self.replica

    # ---- reading what happened --------------------------------------------------------------

    def poll(self, timeout=0.0):
        """Returns what happened since the last call, oldest first, as dicts; see the README.

        Reads everything that arrived, applies it to the replica, and resyncs when needed.
        Waits up to `timeout` seconds for something when nothing is there yet. Once the
        connection is lost, returns {"type": "lost", "reason": …} once and then nothing.
        """
        if self._closed or self._left or self.lost:
            return self._take()
        if not self._synced:
            raise RuntimeError("call join() and sync() before poll()")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                self._step()
            except (ConnectError, ServerError) as error:
                self._mark_lost(str(error))
            remaining = deadline - time.monotonic()
            if self._outbox or self.lost or remaining <= 0:
                return self._take()
            self._wait(remaining)

    def _take(self):
        taken, self._outbox = self._outbox, []
        return taken

    def _step(self):
        """One round of reading every socket and applying what came; resyncs when needed."""
        # Taken before reading: an event published before this ping was sent has had a whole
        # ping interval to arrive by the time the next ping came (PROTOCOL.md §7).
        before_last = self._pinger.before_last()
        self._read_command()
        self._gather()
        self._process_inbox()
        if self.lost:
            return
        if self._reconnected:
            self._reconnected = False
            self._resync()
        elif self._missed_last_event(before_last):
            self._resync()
        self._release()
        if self._pinger.silent_for() > self.lost_timeout:
            self._mark_lost("The server sent no ping for %g s: it is gone, or the network is." % self.lost_timeout)

    def _missed_last_event(self, before_last):
        """Whether the replica is below the seq of the ping before last with no event received
        since that ping: an event lost that no later one revealed. A client still receiving
        events is only reading behind; a lost one among them shows as a gap in their seqs."""
        if before_last is None:
            return False
        seq, at = before_last
        return self.replica.seq < seq and (self._last_event_at is None or self._last_event_at < at)

    def _read_command(self):
        """Reads the command port: replies go to their requests, notices (kicked) are handled,
        events replayed by a resync go to it. Sends again what a new connection lacks.

        Replies to requests no longer waited for (timed out, or answered already) are dropped.
        """
        self._command_link.update()
        for _ in range(BATCH):
            message = self._command.receive()
            if message is None:
                break
            self._command_message(message)
        self._check_refused(self._command_watch)

    def _command_message(self, message):
        header = message.header
        kind = header["type"]
        ref = messages.ref_of(header)
        request = self._requests.get(ref) if ref is not None else None
        if request is not None and (kind in request.replies or kind == "error"):
            if kind == "error" and header.get("code") == "incomplete":
                # A copy cut short by a cut of the connection (PROTOCOL.md §2, §8): the copy
                # sent again on the new connection is the one answered.
                return
            del self._requests[ref]
            self._command_link.answered(ref)
            if request.waited:
                self._answers[ref] = message
                return
            try:
                outcome = messages.outcome(message, ref, request.kind)
            except wire.Malformed as error:
                outcome = {"type": "refused", "ref": ref, "request": request.kind, "code": "internal",
                           "message": "The server's %s reply is not protocol 2: %s." % (kind, error)}
            if outcome["type"] == "reply" and "seq" in outcome and outcome["seq"] > self.replica.seq:
                heapq.heappush(self._held, (outcome["seq"], next(self._arrivals), outcome))  # once the replica shows what it did
            else:
                self._outbox.append(outcome)
        elif kind == "kicked":
            notice = messages.kicked(message)
            self._outbox.append(notice)
            self._mark_lost("Kicked by %s." % (notice["by"] or "an admin"))
        elif self._replay is not None and kind in messages.SEQUENCED and (kind != "users" or "seq" in header):
            self._replay(message)  # an event replayed by the resync under way (a commit carries its committer's ref)

    def _check_refused(self, watch):
        """A port refused this key: before joining, that is the answer; once joined, the user was
        removed for cause, and a kick says so on the command port, sent before the cut: give
        it a moment to arrive, so that the reason given is the real one."""
        if not watch.refused or self._left or self.lost:
            return
        if not self._joined:
            raise ConnectError(watch.problem(self.timeout))
        self._refused_at = self._refused_at or time.monotonic()
        if time.monotonic() - self._refused_at > REFUSAL_GRACE:
            self._mark_lost("The server no longer accepts this connection: this user was removed or its key revoked.")

    def _gather(self):
        """Reads the subscriber (into the inbox), its monitor, and the publisher's rejections;
        sends again the commits a new publisher connection lacks."""
        if self._subscriber is None:
            return
        if self._subscriber_watch.read():
            self._reconnected = True
        self._publisher_link.update()
        self._check_refused(self._subscriber_watch)
        self._check_refused(self._publisher_link.watch)
        events = False
        for _ in range(BATCH):
            message = self._subscriber.receive()
            if message is None:
                break
            self._inbox.append(message)
            events = events or message.header.get("type") != "presence"
        if events:
            self._last_event_at = time.monotonic()
        for _ in range(BATCH):
            message = self._publisher.receive()
            if message is None:
                break
            if message.header["type"] != "rejected":
                continue
            ref = messages.ref_of(message.header)
            if ref not in self._commits:
                continue  # a repeat's rejection (the first one came), or no commit of this client
            if message.header.get("code") == "incomplete":
                continue  # a copy cut short by a cut: the copy sent again on the new connection counts
            waited = self._commits.pop(ref)
            self._publisher_link.answered(ref)
            if waited:
                self._failures[ref] = messages.error(message)
            else:
                self._outbox.append(messages.rejected(message))

    def _release(self):
        """Hands to poll() the wait=False replies whose seq the replica has reached, in the
        order they came (the server's, whatever their seqs)."""
        held, seq = self._held, self.replica.seq
        ready = []
        while held and held[0][0] <= seq:
            ready.append(heapq.heappop(held)[1:])
        ready.sort()  # by arrival, each its own number: the replies themselves are never compared
        self._outbox.extend(reply for _, reply in ready)

    def _process_inbox(self):
        if not self._synced:
            return
        while self._inbox and not self.lost:
            self._handle(self._inbox.popleft())

    def _handle(self, message, replayed=False):
        """Applies one event if it is the next in seq order; resyncs over a gap."""
        try:
            event = messages.event(message)
        except wire.Malformed:
            return
        if event["type"] == "presence":
            self.replica.apply(event)
            self._outbox.append(event)
            return
        seq = event["seq"]
        if seq <= self.replica.seq:
            return
        if seq > self.replica.seq + 1:
            if replayed:
                return  # a hole in a replay: _resync sees it from the resynced seq
            self._resync()
            if seq != self.replica.seq + 1:
                return
        self.replica.apply(event)
        if event["type"] == "commit" and event["from"] == self.name and event.get("ref") in self._commits:
            ref = event["ref"]
            self._publisher_link.answered(ref)
            if self._commits.pop(ref):
                self._acks[ref] = seq
        self._outbox.append(event)
        if event["type"] == "session" and event["state"] == "closing":
            self._mark_lost("The server is stopping.")

    def _resync(self, announce=True):
        """Asks for the events after the replica's seq; fetches everything when that is too far back.

        A replay with a hole (an event lost with a command connection cut in the middle of
        it) is asked again from where the replica stopped, while that gets further: a fetch
        would skip the events, and with them the acknowledgements of this client's commits.
        """
        for _ in range(RESYNC_ATTEMPTS):
            self.resyncs += 1
            since = self.replica.seq
            self._replay = lambda message: self._handle(message, replayed=True)
            try:
                reply = self._request("resync", {"since": since}, replies=("resynced",))
            except ServerError as error:
                # too_old: the server no longer holds them; bad_request: the replica is ahead of
                # the server (another session on the same address). Either way, start afresh.
                if error.code not in ("too_old", "bad_request"):
                    raise
                break
            finally:
                self._replay = None
            seq, presence = self._parse(messages.resynced, reply)
            if presence is not None:
                self.replica.presence = presence
            if self.replica.seq >= seq:
                return
            if self.replica.seq == since:
                break  # no further: the server does not give what it says it has
        self._fetch_everything(announce)

    def _fetch_everything(self, announce):
        """Replaces the replica with the whole session as of the reply's seq: its nodes, and
        its state and users as of that same seq (PROTOCOL.md §4)."""
        seq, nodes, state, users = self._parse(messages.nodes, self._request("fetch", {}, replies=("nodes",)))
        self.replica.load(seq, nodes)
        self.replica.state = state
        self.replica.users = users
        if announce:
            self._outbox.append({"type": "synced", "seq": seq})
        self._release()

    def _mark_lost(self, reason):
        if self.lost is None:
            self.lost = reason
            self._outbox.append({"type": "lost", "reason": reason})

    # ---- changing the session ---------------------------------------------------------------

    def commit(self, entries, datas, wait=True, timeout=None):
        """Commits nodes, all or nothing, as one event; see the README for the entry fields.

        wait=True returns the event's seq once it has come back (the acknowledgement) and
        raises ServerError if the server rejected it; wait=False returns the commit's ref at
        once, and the outcome shows up in poll() as the commit event with that ref, or as
        "rejected". Large commits go in pieces. Until it is acknowledged the commit is kept,
        `datas` included (not copied: do not change them), to be sent again if the publisher
        connection is remade.
        """
        self._synced_or_raise()
        entries, datas = list(entries), list(datas)
        if len(entries) != len(datas):
            raise ValueError("commit takes one data per entry: %d entries, %d datas" % (len(entries), len(datas)))
        manifest = []
        for entry, data in zip(entries, datas):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise TypeError("each commit entry is a dict with a string id")
            unknown = set(entry) - ENTRY_FIELDS
            if unknown:
                raise ValueError("unknown commit entry fields: %s" % ", ".join(sorted(map(str, unknown))))
            manifest.append(dict(entry, size=memoryview(data).nbytes))
        ref = self._new_ref()
        length, body = wire.encode_manifest(manifest, datas)
        self._commits[ref] = wait
        try:
            self._publisher_link.send(ref, {"type": "commit", "ref": ref, "manifest": length}, body)
            if not wait:
                return ref
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                self._step()
                if ref in self._acks:
                    return self._acks[ref]
                if ref in self._failures:
                    raise self._failures[ref]
                if self.lost:
                    raise ConnectError(self.lost)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectError("The commit did not come back within %g s." % (self.timeout if timeout is None else timeout))
                self._wait(remaining)
        except BaseException:
            # Not sent at all, or given up on: never sent again.
            self._commits.pop(ref, None)
            self._publisher_link.answered(ref)
            raise
        finally:
            self._acks.pop(ref, None)
            self._failures.pop(ref, None)

    def lock(self, ids, force=False, wait=True):
        """Takes nodes that are "common" or already yours (an admin with force: anyone's); returns the seq."""
        return self._change("lock", ids, force, wait)

    def unlock(self, ids, force=False, wait=True):
        """Gives nodes back to "common"; returns the seq."""
        return self._change("unlock", ids, force, wait)

    def give(self, ids, to, force=False, wait=True):
        """Hands nodes to another joined user; returns the seq."""
        if not isinstance(to, str):
            raise TypeError("give() takes the user's name")
        return self._change("give", ids, force, wait, to=to)

    def delete(self, ids, force=False, wait=True):
        """Deletes nodes; returns the seq."""
        return self._change("delete", ids, force, wait)

    def open(self, wait=True):
        """Opens a waiting session (admin only); returns the seq."""
        return self._change("open", wait=wait)

    def kick(self, user, wait=True):
        """Removes a user, whose key is then refused for a while (admin only); returns the seq."""
        if not isinstance(user, str):
            raise TypeError("kick() takes the user's name")
        return self._change("kick", wait=wait, user=user)

    def _change(self, kind, ids=None, force=False, wait=True, **fields):
        """A request answered by `ok` with a seq; returns once the replica has caught up to it,
        so that what the request did is visible in the replica when it returns.

        wait=False returns the request's ref at once: the outcome comes through poll(), as
        a "reply" once the replica has caught up to its seq, or as "refused".
        """
        self._synced_or_raise()
        if force:
            fields["force"] = True
        body = wire.encode_ids(ids) if ids is not None else b""
        if not wait:
            return self._send_request(kind, fields, body, ("ok",), waited=False)
        seq = self._parse(messages.ok, self._request(kind, fields, body))
        deadline = time.monotonic() + self.timeout
        while self.replica.seq < seq and not self.lost:
            self._step()
            remaining = deadline - time.monotonic()
            if self.replica.seq >= seq:
                break
            if remaining <= 0:
                self._resync()
                break
            self._wait(remaining)
        return seq

    def users(self, wait=True):
        """The joined users, as the server sees them now; wait=False: the ref, and the list in
        poll() as the reply's `users`."""
        self._joined_or_raise()
        if not wait:
            return self._send_request("users", {}, b"", ("users",), waited=False)
        return self._parse(messages.users_reply, self._request("users", {}, replies=("users",)))

    def set_presence(self, data, wait=True):
        """Publishes where this user is (a JSON object); ServerError("rate_limited") when sent
        too often. wait=False returns the ref at once, and a refusal comes through poll()
        (an interactive client sends presence this way, never waiting a round trip)."""
        self._joined_or_raise()
        if not isinstance(data, dict):
            raise TypeError("presence data is a dict")
        if not wait:
            return self._send_request("presence", {"data": data}, b"", ("ok",), waited=False)
        self._request("presence", {"data": data})
        return None

    def leave(self):
        """Leaves the session at once (locks released); close() afterwards."""
        self._joined_or_raise()
        self._request("leave", {})
        self._left = True
        self._pinger.stop()

    def close(self):
        """Stops the ping thread and closes every socket. Never raises; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._pinger is not None:
                self._pinger.stop()
        except Exception:
            pass
        try:
            self._context.destroy(linger=0)
        except Exception:
            pass

    # ---- requests -------------------------------------------------------------------------

    def _send_request(self, kind, fields, body, replies, waited):
        """Sends a request on the command port (or keeps it until a connection is up); its
        ref. It is sent again, with the same ref, on every new connection until answered."""
        self._usable()
        ref = self._new_ref()
        self._requests[ref] = _Request(kind, replies, waited)
        try:
            self._command_link.send(ref, dict({"type": kind, "ref": ref}, **fields), body)
        except BaseException:
            self._requests.pop(ref, None)
            raise
        return ref

    def _request(self, kind, fields, body=b"", replies=("ok",)):
        """Sends a request on the command port and returns its reply (a wire.Message).

        ServerError for an error reply; ConnectError when nothing arrives for `timeout`
        seconds, worded by how far the connection got. Subscriber events, rejections and
        the outcomes of requests sent without waiting that arrive meanwhile are kept.
        """
        ref = self._send_request(kind, fields, body, replies, waited=True)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                frames = self._command.frames
                self._read_command()
                reply = self._answers.pop(ref, None)
                if reply is not None:
                    if reply.header["type"] == "error":
                        raise messages.error(reply)
                    return reply
                if self.lost:
                    raise ConnectError(self.lost)
                self._gather()
                if self._command.frames != frames:
                    deadline = time.monotonic() + self.timeout  # a long reply is still arriving
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectError(self._command_watch.problem(self.timeout))
                self._wait(remaining)
        finally:
            # Answered, or given up on: never sent again, and a late reply is dropped.
            self._requests.pop(ref, None)
            self._command_link.answered(ref)
            self._answers.pop(ref, None)

    def _parse(self, parse, reply):
        try:
            return parse(reply)
        except wire.Malformed as error:
            raise ConnectError("The server's %s reply is not protocol 2: %s." % (reply.header["type"], error)) from None

    def _wait(self, seconds):
        self._poller.poll(max(0.0, min(seconds, TICK)) * 1000)

    def _new_ref(self):
        self._ref += 1
        return self._ref

    def _frame(self):
        frame = self.limits.get("frame")
        return frame if type(frame) is int else wire.DEFAULT_FRAME

    def _endpoint(self, offset):
        host = self._host
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        return "tcp://%s:%d" % (host, self._port + offset)

    def _address(self, offset):
        return "%s:%d" % (self._host, self._port + offset)

    def _usable(self):
        if self._closed:
            raise RuntimeError("this client is closed")
        if self.lost:
            raise ConnectError(self.lost)

    def _joined_or_raise(self):
        self._usable()
        if not self._joined:
            raise RuntimeError("call join() first")
        if self._left:
            raise RuntimeError("this client has left the session")

    def _synced_or_raise(self):
        self._joined_or_raise()
        if not self._synced:
            raise RuntimeError("call sync() first")
