"""Sends local changes: each tick, the changed datablocks go as one batch commit (in full, or
as a delta for a large mesh whose vertices alone moved), deletions as one delete request; an
edit of a datablock another user holds is undone from the replica instead."""
from . import kinds
from .digest import chained, digest
from .ids import kind_of

# One commit stays well under the protocol's limits.commit (512 MiB) and its pieces stream.
MAX_COMMIT_BYTES = 128 << 20
# From this size on, a node this user holds may travel as a delta (measured: a vertex moved
# in a million-vertex mesh is a 4 KiB delta instead of an 85 MB full).
DELTA_FROM = 1 << 20
COMMON = "common"
TRUST = b"trust"  # in session.synced: the next encoding Blender gives is the server's version


class Outbox:
    def __init__(self, session):
        self.session = session
        self.changed = {}  # as_pointer() → datablock changed since the last flush
        self.deleted = set()  # node ids whose datablock is gone
        self._counts = None
        self._told = set()  # datablocks already reported as not shared
        self.previous = {}  # node id → the large node's data as last sent or taken

    def collect(self):
        """Notes what Blender says changed, and which shared datablocks are gone."""
        tracker, registry = self.session.tracker, self.session.registry
        for block in tracker.take():
            self.changed[block.as_pointer()] = block
        # Looking for deletions reads every datablock: only when some may have gone.
        counts = registry.counts()
        if tracker.structure or counts != self._counts:
            tracker.structure, self._counts = False, counts
            self.deleted |= registry.scan()

    def flush(self, wait=False):
        """Sends what `collect` found; returns the seq of the last commit when `wait`."""
        session = self.session
        self._flush_deletions()
        entries, datas, outcomes, undo = self._encode_changes()
        if undo:
            for nid in undo:
                owner = session.client.replica.nodes[nid].owner
                session.report(f"{_name(session.registry.get(nid))} is held by {owner}: your change was undone")
            session.applier.apply(undo, read_back=True)
        return self._commit(entries, datas, outcomes, wait)

    def share(self, scene):
        """Sends `scene` and everything it refers to, in a few batch commits."""
        self.session.registry.scan()
        self.session.registry.id_of(scene)
        self.changed[scene.as_pointer()] = scene
        return self.flush(wait=True)

    def _flush_deletions(self):
        session = self.session
        nodes = session.client.replica.nodes
        gone, self.deleted = self.deleted, set()
        mine = sorted(nid for nid in gone if nid in nodes and nodes[nid].owner in (session.name, COMMON))
        held = sorted(nid for nid in gone if nid in nodes and nid not in mine)
        for nid in gone - set(nodes):
            session.forget(nid)
        if mine:
            try:
                session.client.delete(mine)
                for nid in mine:
                    session.forget(nid)
            except session.ServerError as error:
                session.report(f"the server refused a deletion: {error.message}")
                held += mine
        if held:
            for nid in held:
                session.report(f"{nodes[nid].kind} {nid[-8:]} is held by {nodes[nid].owner}: it is back")
            dependents = [other for other, node in nodes.items() if set(held) & set(node.deps or ())]
            session.applier.apply(held + dependents, read_back=True)

    def _encode_changes(self):
        session = self.session
        registry, nodes, synced = session.registry, session.client.replica.nodes, session.synced
        changed, self.changed = list(self.changed.values()), {}
        work = []
        for block in changed:
            try:
                nid = registry.id_of(block, create=False)
            except ReferenceError:
                continue  # removed since
            if nid is not None:
                work.append((nid, block))
        entries, datas, outcomes, undo, seen, unshared = [], [], [], [], set(), []
        for nid, block in work:  # grows with the new datablocks the changed ones refer to
            if nid in seen or block is None:
                continue
            seen.add(nid)
            try:
                if block.library is not None:
                    continue  # linked from another file: not ours to share
                if not self._out_of_edit_mode(block):
                    self.changed[block.as_pointer()] = block  # next tick
                    continue
                data, deps = kinds.encode(block, registry, unshared)
            except ReferenceError:
                continue
            except Exception as error:  # a datablock the add-on cannot read is reported, not fatal
                session.report(f"{_name(block)} is not shared: {error}")
                continue
            stamp = digest(data)
            if synced.get(nid) == TRUST:  # just applied from the server: this is its version
                synced[nid] = stamp
                self._remember(nid, data)
                continue
            if synced.get(nid) == stamp:
                continue
            node = nodes.get(nid)
            if node is not None and node.owner not in (session.name, COMMON):
                undo.append(nid)
                continue
            entry = {"id": nid, "kind": kind_of(block), "deps": deps, "mode": "full"}
            part, outcome = data, (stamp, 1)
            if node is None:
                entry["owner"] = COMMON  # anyone may take it; selecting it locks it
            elif node.owner == session.name:
                part, outcome = self._delta(entry, data, part, outcome)
            entries.append(entry)
            datas.append(part)
            outcomes.append(outcome)
            synced[nid] = stamp
            self._remember(nid, data)
            work.extend((dep, registry.get(dep)) for dep in deps if dep not in synced and dep not in nodes)
        self._tell_unshared(unshared)
        return entries, datas, outcomes, undo

    def _out_of_edit_mode(self, block):
        """Whether the data of `block` is up to date. A mesh in Edit Mode keeps the edits in
        Edit Mode's own copy (and Blender shows no UVs of it until then): it is sent when Edit
        Mode ends and writes them back."""
        obj = self.session.view_layer().objects.active
        return obj is None or obj.mode != "EDIT" or obj.data != block

    def _delta(self, entry, data, part, outcome):
        """A delta in place of the full `part` when only little changed in a large node this
        user holds (no one else can append to it meanwhile); else the full as it was."""
        nid, session = entry["id"], self.session
        previous = self.previous.get(nid)
        stamp, parts = session.expected(nid)
        if previous is None or stamp is None or parts is None or parts > session.limits.get("deltas", 256):
            return part, outcome
        delta = kinds.delta(entry["kind"], previous, data)
        if delta is None:
            return part, outcome
        entry["mode"] = "delta"
        return delta, (chained(stamp, delta), parts + 1)

    def _remember(self, nid, data):
        """Keeps a large node's data to find what the next edit changed."""
        if len(data) >= DELTA_FROM:
            self.previous[nid] = data
        else:
            self.previous.pop(nid, None)

    def _tell_unshared(self, blocks):
        for block in blocks:
            key = block.as_pointer()
            if key not in self._told:
                self._told.add(key)
                self.session.report(f"{block.name} ({block.type.lower()}) stays in this file: that type is not shared yet")

    def _commit(self, entries, datas, outcomes, wait):
        session = self.session
        limit = max(1, min(session.limits.get("batch", 4096), 4096))
        last = None
        start, size = 0, 0
        for end in range(len(entries) + 1):
            full = end - start >= limit or (end < len(entries) and size + len(datas[end]) > MAX_COMMIT_BYTES and end > start)
            if end == len(entries) or full:
                if end > start:
                    last = session.send(entries[start:end], datas[start:end], outcomes[start:end], wait)
                start, size = end, 0
            if end < len(entries):
                size += len(datas[end])
        return last


def _name(block):
    try:
        return f"{type(block).__name__} {block.name}" if block is not None else "a datablock"
    except ReferenceError:
        return "a removed datablock"
