"""The open file, made ready to receive a session: what it held before is removed."""
import bpy

from .ids import COLLECTIONS, PROP


def empty_file(scene):
    """Removes every datablock of a shared kind, and every scene but `scene`."""
    for attribute in COLLECTIONS.values():
        if attribute == "scenes":
            continue
        for block in list(getattr(bpy.data, attribute)):
            getattr(bpy.data, attribute).remove(block)
    for other in list(bpy.data.scenes):
        if other != scene:
            bpy.data.scenes.remove(other)
    if PROP in scene:
        del scene[PROP]
