"""Collections: their objects and child collections, and visibility."""
import bpy

from .. import rna
from ..layout import LayoutError
from .object import shared

KIND = "Collection"
RANK = 7
SETTINGS = ("hide_viewport", "hide_render", "hide_select")


def encode(collection, refs):
    return {"name": collection.name, **members(collection, refs), **rna.read(collection, SETTINGS)}, {}


def create(desc):
    return bpy.data.collections.new(str(desc.get("name", "Collection")))


def apply(collection, desc, arrays, links, problems):
    if collection.name != str(desc.get("name", collection.name)):
        collection.name = str(desc["name"])
    apply_members(collection, desc, links)
    rna.write(collection, desc, SETTINGS, problems)
    return collection


def members(collection, refs):
    """The objects and children of a collection (also a scene's own), as node ids."""
    for obj in collection.objects:
        if not shared(obj):
            refs.skip(obj)
    return {
        "objects": [refs.ref(obj) for obj in collection.objects if shared(obj)],
        "children": [refs.ref(child) for child in collection.children],
    }


def apply_members(collection, desc, links):
    objects, children = desc.get("objects", []), desc.get("children", [])
    if not (isinstance(objects, list) and isinstance(children, list)):
        raise LayoutError("collection objects or children is not a list")
    wanted = [obj for obj in (links.block(i, "Object") for i in objects) if obj is not None]
    for obj in wanted:
        if collection.objects.get(obj.name) != obj:
            collection.objects.link(obj)
    for obj in set(collection.objects) - set(wanted):
        if links.tracked(obj):
            collection.objects.unlink(obj)
    wanted = [child for child in (links.block(i, "Collection") for i in children) if child is not None]
    for child in wanted:
        if collection.children.get(child.name) != child:
            try:
                collection.children.link(child)
            except RuntimeError:  # it would make a cycle
                pass
    for child in set(collection.children) - set(wanted):
        if links.tracked(child):
            collection.children.unlink(child)
