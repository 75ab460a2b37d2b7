"""One artist's connection to a curvehost session, as Blender sees it.

`tick()` does everything, on Blender's main thread: it takes the server's events (applying
other users' changes), sends this artist's changes, turns the selection into locks, sends
presence, and reconnects when the connection was lost. The UI calls it from a timer; a
script calls it in its own loop, after `view_layer.update()`. Commits, locks, unlocks and
presence go without waiting for the server (wait=False): their outcomes come back with the
events, so a tick never waits a round trip for them.
"""
import collections
import sys
import time
import traceback

import bpy

from . import dependencies, kinds, local
from .digest import digest, stamp_of
from .ids import Registry
from .incoming import Applier
from .outgoing import COMMON, TRUST, Outbox
from .presence import Presence
from .reconnect import Attempt, copy_replica
from .rights import Rights
from .tracker import Tracker

RETRY_SECONDS = 1.0


class SessionError(RuntimeError):
    """Connecting is not possible as asked (the sentence says why)."""


class Session:
    def __init__(self, invite, timeout=10.0, scene=None):
        self.curvehost = dependencies.curvehost()
        self.ServerError = self.curvehost.ServerError
        self.invite = invite
        self.timeout = timeout
        self.home_scene = scene or bpy.context.scene
        self.client = None
        self.registry = Registry()
        self.tracker = Tracker()
        self.outbox = Outbox(self)
        self.applier = Applier(self)
        self.rights = Rights(self)
        self.presence_sender = Presence(self)
        self.synced = {}  # node id → digest of this file's encoding when it last matched the server, or TRUST
        self.server = {}  # node id → stamp (digest.stamp_of) of the node's data this file reflects
        self.parts = {}  # node id → how many parts (base and deltas) that data has
        self.in_flight = {}  # commit ref → {node id: (stamp the server will have, parts, or None for a full)}
        self.messages = collections.deque(maxlen=50)
        self.reported = 0  # messages reported so far, the ones the deque has let go of included
        self.status = "connecting"
        self.closed = False
        self._next_try = 0.0
        self._reconnecting = None  # the Attempt under way

    # ---- connecting ----

    def start(self, share):
        """Joins; then shares this scene into the empty session (`share`) or builds the session's here."""
        self.client = self._join(self.curvehost.Client.from_invite(self.invite, timeout=self.timeout))
        if share:
            if self.role != "admin":
                raise SessionError(f"only an admin may share a scene; {self.name} is a {self.role}")
            if self.client.replica.nodes:
                raise SessionError("the session already holds a scene: connect without sharing to join it")
            self.outbox.share(self.home_scene)
            if self.state == "waiting":
                self.client.open()
        else:
            local.empty_file(self.home_scene)
            self._reconcile()
            if not self.client.replica.nodes:
                self.report("the session holds no scene yet: it comes when an admin shares one")
        self.tracker.start()
        self.status = "connected"
        return self

    def _join(self, client):
        try:
            client.hello()
            client.join()
            client.sync()
        except BaseException:
            client.close()
            raise
        return client

    def _reconnect_if_due(self):
        """Tries to reconnect every RETRY_SECONDS, in a thread: a server that does not answer
        must not freeze Blender for the client's timeout. The thread resyncs a copy of the
        replica, which this (main) thread takes over, with the new client, once it is done."""
        attempt = self._reconnecting
        if attempt is not None:
            if attempt.is_alive():
                return
            self._reconnecting = None
            if isinstance(attempt.outcome, BaseException):
                self.status = f"reconnecting: {attempt.outcome}"
                return
            self.client = attempt.outcome
            self.status = "connected"
            self.report("reconnected; the session is up to date")
            self._reconcile()
            return
        now = time.monotonic()
        if now < self._next_try:
            return
        self._next_try = now + RETRY_SECONDS
        self._reconnecting = Attempt(self, self.client, copy_replica(self.curvehost, self.client.replica))
        self._reconnecting.start()

    def _reconcile(self):
        """After a join or a reconnection: brings this file to the replica, keeping local edits to send."""
        nodes = self.client.replica.nodes
        for sent in self.in_flight.values():  # commits whose fate the lost connection hid
            for nid, (stamp, parts) in sent.items():
                if nid in nodes and stamp_of(nodes[nid].parts) == stamp:
                    self.server[nid], self.parts[nid] = stamp, parts
                else:
                    self._resend(nid)
        self.in_flight.clear()
        self.outbox.collect()
        edited = set()
        for block in list(self.outbox.changed.values()):
            try:
                nid = self.registry.id_of(block, create=False)
                if nid and self.synced.get(nid) not in (TRUST, digest(kinds.encode(block, self.registry)[0])):
                    edited.add(nid)
            except Exception:
                continue
        stamps = {nid: stamp_of(node.parts) for nid, node in nodes.items() if nid not in edited}
        remote = [nid for nid, stamp in stamps.items() if self.server.get(nid) != stamp]
        gone = [nid for nid in self.server if nid not in nodes]
        self.applier.apply(remote + gone, stamps)
        self.rights.forget_requests()  # the lost connection's requests get no answer
        self.presence_sender.reset()  # a new join: the server no longer has this user's presence

    def _resend(self, nid):
        self.synced.pop(nid, None)
        self.outbox.previous.pop(nid, None)
        block = self.registry.get(nid)
        if block is not None:
            self.outbox.changed[block.as_pointer()] = block

    # ---- the loop ----

    def tick(self, timeout=0.0):
        """Sends local changes and applies received ones; waits up to `timeout` s for events.

        Returns whether anything the panel or the viewport shows may have changed: events came
        (others' edits, presence, rights, users), or the status or the messages did.
        """
        before = (self.status, self.reported)
        events = self._tick(timeout)
        return bool(events) or (self.status, self.reported) != before

    def _tick(self, timeout):
        """One tick; returns the events it applied."""
        if self.closed:
            return []
        events = []
        try:
            self.outbox.collect()
            if self.client.lost:
                if self.status == "connected":
                    self.status = f"connection lost ({self.client.lost}); reconnecting"
                self._reconnect_if_due()
                return events
            events = self.client.poll(timeout)
            self._handle(events)
            if self.closed or self.client.lost:
                return events
            self.outbox.flush()
            self.rights.update()
            self.presence_sender.update()
        except Exception as error:  # never let a session error take Blender down
            if self.client is not None and self.client.lost:
                return events
            self.report(f"error: {error}")
            traceback.print_exc(file=sys.stderr)
        return events

    def _handle(self, events):
        to_apply, patches = [], []
        for event in events:
            kind = event.get("type")
            if kind == "commit":
                if event.get("from") == self.name:
                    for nid, (stamp, parts) in self.in_flight.pop(event.get("ref"), {}).items():
                        self.server[nid], self.parts[nid] = stamp, parts
                    continue
                for node in event.get("nodes", []):
                    if self._in_flight(node["id"]):
                        continue
                    elif node.get("mode") == "delta":
                        patches.append((node["id"], node["data"]))
                    else:
                        to_apply.append(node["id"])
            elif kind == "delete":
                to_apply += event.get("ids", [])
            elif kind == "rejected":
                sent = self.in_flight.pop(event.get("ref"), {})
                self.report(f"the server refused your change ({event.get('code')}): {event.get('message')}")
                for nid in sent:
                    self.synced.pop(nid, None)
                    self.outbox.previous.pop(nid, None)  # not the server's: no delta may build on it
                to_apply += [nid for nid in sent if nid in self.client.replica.nodes]
            elif kind == "reply":
                if event.get("request") in ("lock", "unlock"):
                    self.rights.answered(event)
            elif kind == "refused":
                request = event.get("request")
                if request == "presence":
                    self.presence_sender.refused(event)
                elif request in ("lock", "unlock"):
                    self.rights.refused(event)
                else:
                    self.report(f"the server refused a {request} ({event.get('code')}): {event.get('message')}")
            elif kind == "kicked":
                self.report(f"{event.get('by')} removed you from the session")
                self.close()
                return
        if any(event.get("type") in ("rights", "delete", "commit") for event in events):
            self.rights.news = True
        whole = set(to_apply)  # applied whole from the replica, deltas included
        for nid, part in patches:
            if nid not in whole and not self.applier.patch(nid, part):
                whole.add(nid)
                to_apply.append(nid)
        if to_apply:
            self.applier.apply(to_apply)

    def _in_flight(self, nid):
        return any(nid in sent for sent in self.in_flight.values())

    def send(self, entries, datas, outcomes, wait):
        """Commits one batch; `outcomes` gives each node's (stamp, parts) once it is taken.
        With `wait`, returns its seq once the server took it."""
        try:
            if wait:
                seq = self.client.commit(entries, datas, wait=True)
                for entry, (stamp, parts) in zip(entries, outcomes):
                    self.server[entry["id"]], self.parts[entry["id"]] = stamp, parts
                return seq
            ref = self.client.commit(entries, datas, wait=False)
        except Exception:
            for entry in entries:
                self._resend(entry["id"])
            raise
        self.in_flight[ref] = {entry["id"]: outcome for entry, outcome in zip(entries, outcomes)}
        return ref

    def expected(self, nid):
        """(stamp, parts) the server will have for `nid` once what was sent is taken."""
        for sent in reversed(list(self.in_flight.values())):
            if nid in sent:
                return sent[nid]
        return self.server.get(nid), self.parts.get(nid)

    # ---- what the parts share ----

    def agreed(self, nid, block, server_stamp, parts, read_back):
        """`block` was just made to match the replica's node `nid` (of `parts` parts, stamped
        `server_stamp`). With `read_back` its encoding is read from Blender now; without, the
        next encoding is taken as matching (TRUST)."""
        self.server[nid] = server_stamp
        self.parts[nid] = parts
        if not read_back:
            self.synced[nid] = TRUST
            return
        try:
            self.synced[nid] = digest(kinds.encode(block, self.registry)[0])
        except Exception:
            self.synced.pop(nid, None)

    def forget(self, nid):
        self.synced.pop(nid, None)
        self.server.pop(nid, None)
        self.parts.pop(nid, None)
        self.outbox.previous.pop(nid, None)

    def report(self, message):
        self.messages.append(message)
        self.reported += 1
        print(f"curvehost: {message}", file=sys.stderr)

    def view_layer(self):
        context_layer = getattr(bpy.context, "view_layer", None)
        if context_layer is not None and bpy.context.scene == self.home_scene:
            return context_layer
        return self.home_scene.view_layers[0]

    def selected_objects(self):
        return list(self.view_layer().objects.selected)

    # ---- the headless API ----

    @property
    def name(self):
        return self.client.name

    @property
    def role(self):
        return self.client.role

    @property
    def limits(self):
        return self.client.limits or {}

    @property
    def state(self):
        return self.client.replica.state

    @property
    def users(self):
        return [{"name": u.get("name"), "role": u.get("role"), "latency": u.get("latency")} for u in self.client.replica.users]

    @property
    def presence(self):
        """{name: their presence data} for every other user who sent one."""
        return {name: entry.get("data") for name, entry in self.client.replica.presence.items() if name != self.name}

    def owner(self, block):
        """The name of the user holding a datablock, or "common"."""
        nid = self.registry.id_of(block, create=False)
        node = self.client.replica.nodes.get(nid) if nid else None
        return node.owner if node is not None else COMMON

    def node_id(self, block):
        return self.registry.id_of(block, create=False)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.status = "disconnected"
        self.tracker.stop()
        if self.client is not None:
            try:
                if not self.client.lost:
                    self.client.leave()
            except Exception:
                pass
            self.client.close()


def connect(invite, share=False, timeout=10.0, scene=None):
    """Joins the session of `invite` (a path or a loaded invite). With `share`, an admin shares
    the current scene into an empty session and opens it; without, this file becomes the session's."""
    session = Session(invite, timeout=timeout, scene=scene)
    try:
        return session.start(share)
    except BaseException:
        session.close()
        raise
