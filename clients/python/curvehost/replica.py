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

    @property
    def data(self):
        """The node's whole data: its parts joined."""
        return b"".join(self.parts)


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
        node.owner = entry["owner"]
        node.kind = entry["kind"]
        if "deps" in entry:
            node.deps = list(entry["deps"])
