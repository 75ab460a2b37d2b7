"""One module per shared datablock kind, each with encode, create and apply; and the two
helpers they share: Refs (datablock → node id, while encoding) and Links (node id →
datablock, while applying)."""
import bpy

from .. import layout
from ..ids import COLLECTIONS, kind_of
from . import camera, collection, image, light, material, mesh, object, scene, text

CODECS = {codec.KIND: codec for codec in (image, material, mesh, light, camera, text, object, collection, scene)}


def rank(kind):
    """Datablocks are applied referenced first: images, materials, data, objects, collections, scenes."""
    codec = CODECS.get(kind)
    return codec.RANK if codec else 99


class Refs:
    """Node ids for the datablocks a node refers to; they become its deps."""

    def __init__(self, registry):
        self.registry = registry
        self.deps = []
        self.unshared = []  # datablocks left out because their type is not shared yet

    def skip(self, block):
        self.unshared.append(block)

    def ref(self, block):
        if block is None or kind_of(block) is None:
            return None
        node_id = self.registry.id_of(block)
        if node_id not in self.deps:
            self.deps.append(node_id)
        return node_id


class Links:
    """Datablocks for the node ids a node refers to; the ids not here yet are `missing`."""

    def __init__(self, registry):
        self.registry = registry
        self.missing = set()

    def block(self, node_id, kind):
        if node_id is None:
            return None
        block = self.registry.get(node_id) if isinstance(node_id, str) else None
        if block is None or kind_of(block) != kind:
            self.missing.add(str(node_id)[:128])
            return None
        return block

    def tracked(self, block):
        """Whether a datablock is shared (so a node may take it out of a collection)."""
        return self.registry.id_of(block, create=False) is not None


def encode(block, registry, unshared=None):
    """(data bytes, deps) for a datablock; LayoutError (or another error) if it cannot be read.

    The datablocks it refers to whose type is not shared yet are added to `unshared`."""
    refs = Refs(registry)
    desc, arrays = CODECS[kind_of(block)].encode(block, refs)
    if unshared is not None:
        unshared.extend(refs.unshared)
    return layout.pack(desc, arrays), refs.deps


def apply(kind, block, parts, registry, problems):
    """Makes (if `block` is None) or updates a datablock from node data: its base part and then
    its delta parts.

    Returns (the datablock or None if it waits for another, the node ids it lacks)."""
    codec = CODECS.get(kind)
    if codec is None:
        raise layout.LayoutError(f"kind {kind[:64]} is not one this add-on knows")
    desc, arrays = layout.unpack(parts[0])
    links = Links(registry)
    created = codec.create(desc) if block is None else None
    try:
        block = codec.apply(block or created, desc, arrays, links, problems)
        for part in parts[1:]:
            if block is not None:
                patch(kind, block, part)
    except Exception:
        if created is not None:
            remove(created)
        raise
    return block, links.missing


def patch(kind, block, part):
    """Applies one delta part to a datablock that holds the node's data before it."""
    codec = CODECS.get(kind)
    if not hasattr(codec, "patch"):
        raise layout.LayoutError(f"a {kind[:64]} node cannot take a delta")
    desc, arrays = layout.unpack(part)
    codec.patch(block, desc, arrays)


def delta(kind, old, new):
    """A delta part that turns node data `old` into `new`, or None when only a full will do."""
    codec = CODECS.get(kind)
    return codec.delta(old, new) if hasattr(codec, "delta") else None


def remove(block):
    """Removes a datablock from the file."""
    getattr(bpy.data, COLLECTIONS[kind_of(block)]).remove(block)
