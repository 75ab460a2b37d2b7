"""Applies nodes of the replica to Blender: referenced datablocks first, and a node whose
references are not here yet again when they come."""
import bpy

from . import kinds
from .digest import chained, stamp_of

# Above this size a node's data is not read back from Blender once applied (reading back a
# million-vertex mesh costs seconds): the next encoding Blender gives is taken as the one
# that matches the server. Below it, and whenever a reference or a setting could not be
# applied, it is read back at once.
READ_BACK_BELOW = 1 << 20


class Applier:
    def __init__(self, session):
        self.session = session
        self.waiting = {}  # a node id not here yet → the node ids that refer to it

    def apply(self, ids, stamps=None, read_back=False):
        """Brings the datablocks of `ids` to their state in the replica (removing those it lacks).

        `stamps` may give the digests of nodes' data already computed; `read_back` reads every
        applied datablock back rather than trusting a large node's data."""
        session = self.session
        nodes = session.client.replica.nodes
        queue = sorted(set(ids), key=lambda nid: (kinds.rank(nodes[nid].kind) if nid in nodes else -1, nid))
        for nid in queue:  # grows as waiting nodes become ready
            node = nodes.get(nid)
            if node is None:
                self.remove(nid)
                continue
            problems = []
            parts = node.parts
            try:
                block, missing = kinds.apply(node.kind, self._block_for(node), parts, session.registry, problems)
            except Exception as error:  # bad data must never take Blender down
                session.report(f"{_label(node)} from {node.owner}: {error}; skipped")
                continue
            for other in missing:
                self.waiting.setdefault(other, set()).add(nid)
            if problems:
                session.report(f"{_label(node)}: {'; '.join(problems[:3])}")
            if block is None:
                continue
            session.registry.bind(nid, block)
            stamp = (stamps or {}).get(nid) or stamp_of(parts)
            exact = read_back or missing or problems or sum(map(len, parts)) < READ_BACK_BELOW
            session.agreed(nid, block, stamp, len(parts), read_back=exact)
            queue.extend(sorted(self.waiting.pop(nid, ())))

    def patch(self, nid, part):
        """Applies another user's delta to a datablock that holds the node's data before it;
        False when it does not (the caller applies the node whole instead)."""
        session = self.session
        block = session.registry.get(nid)
        node = session.client.replica.nodes.get(nid)
        if block is None or node is None or session.server.get(nid) is None or session.parts.get(nid) != len(node.parts) - 1:
            return False
        try:
            kinds.patch(node.kind, block, part)
        except Exception as error:
            session.report(f"{_label(node)} from {node.owner}: {error}; taken whole instead")
            return False
        session.agreed(nid, block, chained(session.server[nid], part), len(node.parts), read_back=False)
        return True

    def remove(self, nid):
        """Removes the datablock of a node that is no longer in the session."""
        session = self.session
        block = session.registry.get(nid)
        session.registry.forget(nid)
        session.forget(nid)
        if block is None:
            return
        if block == session.home_scene or (isinstance(block, bpy.types.Scene) and len(bpy.data.scenes) == 1):
            return  # Blender needs a scene
        try:
            kinds.remove(block)
        except (ReferenceError, RuntimeError) as error:
            session.report(f"cannot remove {block.name}: {error}")

    def _block_for(self, node):
        block = self.session.registry.get(node.id)
        if block is None and node.kind == "Scene" and self.session.registry.id_of(self.session.home_scene, create=False) is None:
            block = self.session.home_scene  # the session's scene takes the place of this file's
        return block


def _label(node):
    return f"{node.kind[:64] or 'node'} {node.id[:80]}"
