"""Objects: name, transform, parent, visibility, object-linked materials, and their data.

The object's type follows its data (a mesh, light, camera or text curve, or none for an
empty). Blender fixes an object's type when it is made, so an object whose data has not
arrived yet waits for it (`links` records the missing id and the session applies the object
again when the data comes).
"""
import bpy

from .. import rna
from ..layout import LayoutError

KIND = "Object"
RANK = 5

DATA_KINDS = {"MESH": "Mesh", "LIGHT": "Light", "CAMERA": "Camera", "FONT": "TextCurve", "EMPTY": None}
SETTINGS = (
    "location", "rotation_mode", "rotation_euler", "rotation_quaternion", "scale",
    "matrix_parent_inverse", "parent_type", "hide_viewport", "hide_render", "hide_select",
    "empty_display_type", "empty_display_size", "color", "display_type",
)


class UnsupportedType(LayoutError):
    pass


def shared(obj):
    """Whether the add-on shares objects of this one's type."""
    return obj.type in DATA_KINDS


def encode(obj, refs):
    if not shared(obj):
        raise UnsupportedType(f"objects of type {obj.type} are not shared yet")
    desc = {
        "name": obj.name,
        "type": obj.type,
        "data": refs.ref(obj.data),
        "parent": refs.ref(obj.parent),
        "hidden": obj.hide_get(),
        "slots": [[slot.link, refs.ref(slot.material) if slot.link == "OBJECT" else None] for slot in obj.material_slots],
        **rna.read(obj, SETTINGS),
    }
    return desc, {}


def create(desc):
    return None  # made in apply, once its data is there


def apply(obj, desc, arrays, links, problems):
    kind = DATA_KINDS.get(desc.get("type"), "?")
    if kind == "?":
        raise UnsupportedType(f"objects of type {str(desc.get('type'))[:20]} are not shared yet")
    data = links.block(desc.get("data"), kind) if kind else None
    if kind and data is None:
        return obj  # waits for its data
    name = str(desc.get("name", "Object"))
    if obj is None or obj.type != desc["type"]:
        obj = _replace(obj, name, data)
    elif obj.data != data:
        obj.data = data
    if obj.name != name:
        obj.name = name
    parent = links.block(desc.get("parent"), "Object")
    if obj.parent != parent and parent is not obj:
        obj.parent = parent
    rna.write(obj, desc, SETTINGS, problems)
    _apply_slots(obj, desc.get("slots", []), links)
    hidden = bool(desc.get("hidden", False))
    for layer in _view_layers_with(obj):
        if obj.hide_get(view_layer=layer) != hidden:
            obj.hide_set(hidden, view_layer=layer)
    return obj


def _replace(old, name, data):
    """A new object in place of `old` (of another type), in the same collections."""
    obj = bpy.data.objects.new(name, data)
    if old is not None:
        for collection in list(old.users_collection):
            collection.objects.link(obj)
        bpy.data.objects.remove(old)
    return obj


def _apply_slots(obj, slots, links):
    if not isinstance(slots, list):
        raise LayoutError("object slots is not a list")
    for slot, wanted in zip(obj.material_slots, slots):
        if not (isinstance(wanted, list) and len(wanted) == 2 and wanted[0] in ("OBJECT", "DATA")):
            continue
        if slot.link != wanted[0]:
            slot.link = wanted[0]
        if wanted[0] == "OBJECT":
            material = links.block(wanted[1], "Material")
            if slot.material != material:
                slot.material = material


def _view_layers_with(obj):
    return [layer for scene in obj.users_scene for layer in scene.view_layers if obj.name in layer.objects]
