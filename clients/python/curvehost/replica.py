"""The client's copy of the session: nodes, who is there, where they are, and up to which seq.

A Replica only applies what it is given, in the order given; deciding that order (seq
gaps, resync, fetch) is the client's job. It holds no socket, so the add-on can keep one
across connections: a new Client given the old replica resyncs from `replica.seq` and
loses nothing.
"""
import dataclasses


@dataclasses.dataclass
class Node:
    """One node: its data is a base part followed by the delta parts committed since."""

    id: str
    owner: str
    kind: str = ""
    deps: list = dataclasses.field(default_factory=list)
    parts: list = dataclasses.field(default_factory=list)
    # (the parts it was joined from, the joined bytes): `data` joins them once, not on every access.
    _joined: tuple = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @property
    def data(self):
        """The node's whole data: its parts joined, once for as long as the parts stay the same.

        A node of one part is that part itself; one with deltas is joined at the first access
        after a change and kept, so reading it again costs nothing. (`parts` is what the
        server holds, the base then each delta, without a copy.)
        """
        parts = self.parts
        if len(parts) == 1 and isinstance(parts[0], bytes):
            return parts[0]
        joined = self._joined
        # The parts themselves are kept with the bytes joined from them, so that a part freed
        # and another made in its place cannot pass for it.
        if joined is not None and len(joined[0]) == len(parts) and all(a is b for a, b in zip(joined[0], parts)):
            return joined[1]
        data = b"".join(parts)
        self._joined = (tuple(parts), data)
        return data

    def _changed(self):
        self._joined = None


class Replica:
    """`nodes` by id, the `seq` they are as of, and `users`, `presence` and `state`."""

    def __init__(self):
        self.nodes = {}
        self.seq = 0
        self.users = []
        # A user's name -> {"data": …, "latency": …}, their latest presence.
        self.presence = {}
        # "waiting" or "open" once joined; "closing" when the server said it is stopping.
        self.state = ""

    def __repr__(self):
        return "<Replica seq=%d, %d nodes, %d users, %s>" % (self.seq, len(self.nodes), len(self.users), self.state or "not joined")

    def load(self, seq, nodes):
        """Replaces every node with a fetched state: [(id, owner, kind, deps, parts), …] as of `seq`."""
        self.nodes = {node_id: Node(node_id, owner, kind, list(deps), list(parts)) for node_id, owner, kind, deps, parts in nodes}
        self.seq = seq

    def apply(self, event):
        """Applies one event as poll() returns it; a sequenced one must be the next seq."""
        kind = event["type"]
        if kind == "presence":
            self.presence[event["from"]] = {"data": event["data"], "latency": event["latency"]}
            return
        if kind == "commit":
            for entry in event["nodes"]:
                self._commit(entry)
        elif kind == "rights":
            for node_id in event["ids"]:
                if node_id in self.nodes:
                    self.nodes[node_id].owner = event["owner"]
        elif kind == "delete":
            for node_id in event["ids"]:
                self.nodes.pop(node_id, None)
        elif kind == "session":
            self.state = event["state"]
        elif kind == "users":
            self.users = event["users"]
            # Whoever is no longer there is nowhere: their presence goes with them.
            names = {user["name"] for user in self.users}
            self.presence = {name: entry for name, entry in self.presence.items() if name in names}
        self.seq = event["seq"]

    def _commit(self, entry):
        node = self.nodes.get(entry["id"])
        if node is None:
            node = self.nodes[entry["id"]] = Node(entry["id"], entry["owner"])
        if entry["mode"] == "delta":
            node.parts.append(entry["data"])
        else:
            node.parts = [entry["data"]]
        node._changed()  # the data joined before is not the node's any more: let it go
        node.owner = entry["owner"]
        node.kind = entry["kind"]
        if "deps" in entry:
            node.deps = list(entry["deps"])
