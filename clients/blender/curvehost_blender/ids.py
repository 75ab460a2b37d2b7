"""Stable node ids for datablocks, kept in a custom property so renames break nothing.

A node id is "<Kind>/<32 hex digits>" (at most 128 characters, as the protocol allows). A
datablock copied in Blender (Shift+D, copy and paste) carries its original's property; the
registry gives the copy a new id when it finds two datablocks claiming one.
"""
import uuid

import bpy

PROP = "curvehost_id"

# Node kind → the bpy.data collection its datablocks live in.
COLLECTIONS = {
    "Scene": "scenes",
    "Collection": "collections",
    "Object": "objects",
    "Mesh": "meshes",
    "Material": "materials",
    "Light": "lights",
    "Camera": "cameras",
    "Image": "images",
    "TextCurve": "curves",
}


def kind_of(block):
    """The node kind of a datablock, or None when the add-on does not share its type."""
    if isinstance(block, bpy.types.TextCurve):
        return "TextCurve"
    if isinstance(block, bpy.types.Curve):
        return None  # only text curves are shared yet
    for kind in COLLECTIONS:
        if isinstance(block, getattr(bpy.types, kind)):
            return kind
    return None


def new_id(kind):
    return f"{kind}/{uuid.uuid4().hex}"


class Registry:
    """Which live datablock holds which node id, rebuilt from the custom properties on demand."""

    def __init__(self):
        self.blocks = {}  # node id → datablock
        self._pointers = {}  # node id → as_pointer() of the datablock that had it first

    @staticmethod
    def counts():
        """How many datablocks of each shared kind the file has: a change means some were added or removed."""
        return tuple(len(getattr(bpy.data, attribute)) for attribute in COLLECTIONS.values())

    def scan(self):
        """Re-reads every shared kind's datablocks; returns the ids no datablock holds any more."""
        before = set(self.blocks)
        blocks = {}
        for attribute in COLLECTIONS.values():
            for block in getattr(bpy.data, attribute):
                node_id = block.get(PROP)
                if not isinstance(node_id, str) or (attribute == "curves" and not isinstance(block, bpy.types.TextCurve)):
                    continue
                if node_id in blocks:  # a copy: the datablock seen before keeps the id
                    if self._pointers.get(node_id) == block.as_pointer():
                        blocks[node_id], block = block, blocks[node_id]
                    del block[PROP]
                    continue
                blocks[node_id] = block
        self.blocks = blocks
        self._pointers = {node_id: block.as_pointer() for node_id, block in blocks.items()}
        return before - set(blocks)

    def id_of(self, block, create=True):
        """The node id of `block`, giving it one (if `create`) when it has none."""
        node_id = block.get(PROP)
        if isinstance(node_id, str) and self.blocks.get(node_id) is not None and self._same(node_id, block):
            return node_id
        if isinstance(node_id, str) and node_id not in self.blocks:
            self.bind(node_id, block)
            return node_id
        if not create:
            return None
        return self.bind(new_id(kind_of(block)), block)

    def bind(self, node_id, block):
        block[PROP] = node_id
        self.blocks[node_id] = block
        self._pointers[node_id] = block.as_pointer()
        return node_id

    def forget(self, node_id):
        self.blocks.pop(node_id, None)
        self._pointers.pop(node_id, None)

    def get(self, node_id):
        """The live datablock of `node_id`, or None (also when it was removed since the last scan)."""
        block = self.blocks.get(node_id)
        if block is None:
            return None
        try:
            block.name
        except ReferenceError:
            self.forget(node_id)
            return None
        return block

    def _same(self, node_id, block):
        return self._pointers.get(node_id) == block.as_pointer()
